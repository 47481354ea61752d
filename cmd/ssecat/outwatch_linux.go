//go:build linux

package main

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// watchOutput watches out, when it is a pipe or a socket, and calls gone
// once nothing can read it any more, so that ssecat notices a reader that
// went away (head has its lines) while the stream is quiet, without
// writing. It returns stop, which ends the watch and returns once it has
// ended; out must stay open until then. Where out is something else, it
// does nothing.
func watchOutput(out io.Writer, gone func()) (stop func()) {
	f, ok := out.(*os.File)
	if !ok {
		return func() {}
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
		return func() {}
	}
	var wake [2]int // closing wake[1] ends the watch
	if err := unix.Pipe2(wake[:], unix.O_CLOEXEC); err != nil {
		return func() {}
	}
	fds := []unix.PollFd{
		// No events asked for: poll still reports POLLERR (a pipe whose
		// readers are all gone) and POLLHUP (a socket shut down both ways).
		{Fd: int32(f.Fd())},
		{Fd: int32(wake[0]), Events: unix.POLLIN},
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, err := unix.Poll(fds, -1)
			switch {
			case err == unix.EINTR:
				continue
			case err != nil || fds[1].Revents != 0:
				return
			case fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0:
				gone()
				return
			case fds[0].Revents != 0:
				return // POLLNVAL: out was closed under us
			}
		}
	}()
	return func() {
		unix.Close(wake[1])
		<-done
		unix.Close(wake[0])
	}
}
