package sse

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ssekit/sse/internal/parser"
)

// reportCPU adds the process CPU time per iteration (cpu-ns/op) to b's
// results: on a loaded machine it varies far less than wall time.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op")
	}
}

// Benchmarks of the library alone, by stream shape and level. The bench/
// module compares the same shapes against other clients.

type benchShape struct {
	name   string
	stream []byte
	events int
	chunk  int // bytes per Read; 0 for as much as asked
}

func benchShapes() []benchShape {
	var small, crlf, comments, large, llm bytes.Buffer
	for i := range 1000 {
		fmt.Fprintf(&small, "id: %d\nevent: update\ndata: {\"seq\":%06d,\"user\":\"u-1234\",\"status\":\"active\",\"score\":12.5}\n\n", i, i)
	}
	crlf.WriteString(strings.ReplaceAll(small.String(), "\n", "\r\n"))
	for i := range 1000 {
		comments.WriteString(": hb\n: hb\n: hb\n: hb\n")
		fmt.Fprintf(&comments, "id: %d\nevent: update\ndata: {\"seq\":%06d,\"user\":\"u-1234\",\"status\":\"active\",\"score\":12.5}\n\n", i, i)
	}
	line := "data: " + strings.Repeat("x", 121) + "\n"
	for range 32 {
		for range 256 {
			large.WriteString(line)
		}
		large.WriteString("\n")
	}
	big := "data: " + strings.Repeat("y", 128<<10) + "\n\n"
	for range 16 {
		llm.WriteString(big)
	}
	return []benchShape{
		{"SmallLF", small.Bytes(), 1000, 0},
		{"SmallCRLF", crlf.Bytes(), 1000, 0},
		{"SmallOneByte", small.Bytes()[:20000], 0, 1},
		{"CommentHeavy", comments.Bytes(), 1000, 0},
		{"LargeMultiline", large.Bytes(), 32, 0},
		{"LargeMultiline1460", large.Bytes(), 32, 1460},
		{"LLMLines1460", llm.Bytes(), 16, 1460},
	}
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	b []byte
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), len(r.b))
	if r.n > 0 {
		k = min(k, r.n)
	}
	copy(p, r.b[:k])
	r.b = r.b[k:]
	return k, nil
}

// benchEachShape runs one sub-benchmark per shape; run reads the shape's
// stream once through the level under test.
func benchEachShape(b *testing.B, run func(sh benchShape)) {
	for _, sh := range benchShapes() {
		b.Run(sh.name, func(b *testing.B) {
			b.SetBytes(int64(len(sh.stream)))
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				run(sh)
			}
		})
	}
}

// source replays the shape's stream, in its read size, on each connection.
func (sh benchShape) source() Option {
	return WithSource(SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
		return io.NopCloser(&chunkReader{sh.stream, sh.chunk}), nil
	}))
}

func BenchmarkParser(b *testing.B) {
	var p parser.Parser
	benchEachShape(b, func(sh benchShape) {
		p.Reset(&chunkReader{sh.stream, sh.chunk}, 16<<20)
		for {
			if _, err := p.Next(); err != nil {
				break
			}
		}
	})
}

func BenchmarkDecoder(b *testing.B) {
	n := 0
	benchEachShape(b, func(sh benchShape) {
		d := NewDecoder(&chunkReader{sh.stream, sh.chunk})
		for d.Next() {
			n += len(d.Data())
		}
	})
}

func BenchmarkStreamEvents(b *testing.B) {
	n := 0
	benchEachShape(b, func(sh benchShape) {
		s, _ := NewStream("", WithErrorStrategy(AlwaysFail()), sh.source())
		for range s.Events(context.Background()) {
			n++
		}
	})
}

func BenchmarkDispatcher(b *testing.B) {
	n := 0
	benchEachShape(b, func(sh benchShape) {
		d, _ := New("", WithErrorStrategy(AlwaysFail()), sh.source())
		d.OnEvent(func(_ context.Context, ev Event) { n += len(ev.Data) })
		d.Run(context.Background())
	})
}
