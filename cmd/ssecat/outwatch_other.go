//go:build !linux

package main

import "io"

// watchOutput would notice a reader of out going away without a write; it
// does so on Linux only. Elsewhere ssecat notices at its next write.
func watchOutput(io.Writer, func()) (stop func()) { return func() {} }
