package bench

import (
	"context"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	shapes      = sync.OnceValue(Shapes)
	scaleShapes = sync.OnceValue(ScaleShapes)
	setupShape  = sync.OnceValue(SetupShape)
)

// scaleImpls are timed on the scale shapes: the peers whose cost per event
// grows with its size would take minutes there, and line128k-1460 shows them.
var scaleImpls = []string{"ours-stream", "ours-dispatch", "openai-decoder", "tmaxmax-read", "floor-readslice"}

func shape(t testing.TB, name string) *Shape {
	i := slices.IndexFunc(shapes(), func(sh *Shape) bool { return sh.Name == name })
	if i < 0 {
		t.Fatalf("no shape %q", name)
	}
	return shapes()[i]
}

// TestShapes checks the generators against what the issue asks for.
func TestShapes(t *testing.T) {
	for _, sh := range shapes() {
		if sh.Events == 0 || sh.DataLen == 0 || len(sh.Data) == 0 {
			t.Errorf("%s: empty stream", sh.Name)
		}
	}
	if n := len(smallJSON(123456)); n != 64 {
		t.Errorf("small event data is %d bytes; want 64", n)
	}
	if per := len(shape(t, "small-lf").Data) / shape(t, "small-lf").Events; per < 90 || per > 100 {
		t.Errorf("small events are %d bytes; want about 95", per)
	}
	if per := shape(t, "large").DataLen / int64(shape(t, "large").Events); per < 30<<10 || per > 33<<10 {
		t.Errorf("large events carry %d bytes; want about 32 KiB", per)
	}
	if got := shape(t, "line128k-1460").DataLen / int64(shape(t, "line128k-1460").Events); got != 128<<10 {
		t.Errorf("line128k events carry %d bytes; want %d", got, 128<<10)
	}
	if sh := shape(t, "huge8m"); sh.Events != 1 || sh.DataLen != 8<<20 {
		t.Errorf("huge8m: %d events of %d bytes; want 1 of %d", sh.Events, sh.DataLen, 8<<20)
	}
	if sh := setupShape(); sh.Events != 1 || sh.DataLen != 64 {
		t.Errorf("one-small: %d events of %d bytes; want 1 of 64", sh.Events, sh.DataLen)
	}
}

// TestAdapters reads every shape once with every adapter and compares what
// it found with what the generator wrote. Known peer failures must still fail.
func TestAdapters(t *testing.T) {
	for _, sh := range slices.Concat(shapes(), scaleShapes(), []*Shape{setupShape()}) {
		for _, a := range Adapters() {
			t.Run(sh.Name+"/"+a.Name, func(t *testing.T) {
				if strings.HasPrefix(sh.Name, "line") && sh.Name != "line128k-1460" && !slices.Contains(scaleImpls, a.Name) {
					t.Skip("not timed on the scale shapes")
				}
				got, err := a.Read(context.Background(), sh, sh.Reader())
				want := a.Want(sh)
				if reason, ok := Known[[2]string{a.Name, sh.Name}]; ok {
					if err == nil && got == want {
						t.Fatalf("known failure (%s) no longer happens: remove it from Known", reason)
					}
					t.Skipf("known failure: %s (got %+v, err %v; want %+v)", reason, got, err, want)
				}
				if err != nil || got != want {
					t.Fatalf("got %+v, err %v; want %+v", got, err, want)
				}
			})
		}
	}
}

// TestFloorCopyValid checks that the copy floor validates what it copies:
// without the check it would be floor-copy with an allocation, and huge8m's
// ratio to it would flatter the library.
func TestFloorCopyValid(t *testing.T) {
	sh := &Shape{Name: "not-utf8", Data: []byte("data: a\xffb\n\n")}
	if got, err := floorCopyValid(context.Background(), sh, sh.Reader()); err == nil {
		t.Errorf("got %+v and no error for %q; want an error", got, sh.Data)
	}
}

// TestHTTPAdapters does the same over loopback HTTP.
func TestHTTPAdapters(t *testing.T) {
	srv := Server(shapes())
	defer srv.Close()
	hc := srv.Client()
	for _, name := range HTTPShapes {
		sh := shape(t, name)
		for _, a := range HTTPAdapters() {
			t.Run(name+"/"+a.Name, func(t *testing.T) {
				got, err := a.Read(context.Background(), sh, hc, srv.URL+"/"+name)
				want := (&Adapter{Name: a.Name, Level: a.Level}).Want(sh)
				if err != nil || got != want {
					t.Fatalf("got %+v, err %v; want %+v", got, err, want)
				}
			})
		}
	}
}

// cpuTime returns the CPU time this process has used, user and system, in
// all its threads; a child process's is not included.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure times run with b.Loop and reports the per-event figures. One
// untimed run comes first: it checks the result, and it grows the heap to
// what the stream needs, which would otherwise be charged to whichever
// implementation happens to run first on a large shape.
func measure(b *testing.B, sh *Shape, want Result, run func() (Result, error)) {
	b.SetBytes(int64(len(sh.Data)))
	check := func() {
		got, err := run()
		if err != nil || got != want {
			b.Fatalf("got %+v, err %v; want %+v", got, err, want)
		}
	}
	check()
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	cpu0 := cpuTime()
	for b.Loop() {
		check()
	}
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&m1)
	events := float64(b.N) * float64(sh.Events)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/events, "ns/event")
	b.ReportMetric(float64(cpu.Nanoseconds())/events, "cpu-ns/event")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/events, "allocs/event")
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/events, "B/event")
	b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDecode reads each shape from memory with each adapter.
func BenchmarkDecode(b *testing.B) {
	for _, sh := range shapes() {
		for _, a := range Adapters() {
			b.Run("shape="+sh.Name+"/impl="+a.Name, func(b *testing.B) {
				if reason, ok := Known[[2]string{a.Name, sh.Name}]; ok {
					b.Skip("known failure: " + reason)
				}
				ctx := context.Background()
				measure(b, sh, a.Want(sh), func() (Result, error) { return a.Read(ctx, sh, sh.Reader()) })
			})
		}
	}
}

// BenchmarkSetup reads a stream of one small event with our levels: their
// allocations there are what a stream's setup and end cost, which the table
// takes off huge8m's.
func BenchmarkSetup(b *testing.B) {
	sh := setupShape()
	for _, a := range Adapters() {
		if a.Level != Ours {
			continue
		}
		b.Run("shape="+sh.Name+"/impl="+a.Name, func(b *testing.B) {
			ctx := context.Background()
			measure(b, sh, a.Want(sh), func() (Result, error) { return a.Read(ctx, sh, sh.Reader()) })
		})
	}
}

// BenchmarkScale reads single-line events of growing size in 1460-byte
// reads; see ScaleShapes.
func BenchmarkScale(b *testing.B) {
	for _, sh := range scaleShapes() {
		for _, a := range Adapters() {
			if !slices.Contains(scaleImpls, a.Name) {
				continue
			}
			b.Run("shape="+sh.Name+"/impl="+a.Name, func(b *testing.B) {
				ctx := context.Background()
				measure(b, sh, a.Want(sh), func() (Result, error) { return a.Read(ctx, sh, sh.Reader()) })
			})
		}
	}
}

// BenchmarkHTTP reads some shapes over loopback HTTP from one server.
func BenchmarkHTTP(b *testing.B) {
	srv := Server(shapes())
	defer srv.Close()
	hc := &http.Client{Transport: srv.Client().Transport}
	for _, name := range HTTPShapes {
		sh := shape(b, name)
		for _, a := range HTTPAdapters() {
			b.Run("shape="+name+"/impl="+a.Name, func(b *testing.B) {
				ctx := context.Background()
				url := srv.URL + "/" + name
				want := (&Adapter{Name: a.Name, Level: a.Level}).Want(sh)
				measure(b, sh, want, func() (Result, error) { return a.Read(ctx, sh, hc, url) })
			})
		}
	}
}
