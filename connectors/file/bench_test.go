package file

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkFileSourcePoll reads a file of one million short lines through
// Poll, as the throughput benchmark's source does.
func BenchmarkFileSourcePoll(b *testing.B) {
	const lines = 1_000_000
	path := filepath.Join(b.TempDir(), "in.txt")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range lines {
		w.WriteString("line-")
		w.WriteString(strconv.Itoa(i))
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	info, _ := f.Stat()
	f.Close()
	b.SetBytes(info.Size())
	b.ReportAllocs()
	config := map[string]string{"file": path, "topic": "bench"}
	for b.Loop() {
		task := &SourceTask{}
		if err := task.Start(b.Context(), newTaskCtx(nil), config); err != nil {
			b.Fatal(err)
		}
		n := 0
		for n < lines {
			recs, err := task.Poll(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			n += len(recs)
		}
		task.Stop()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
}
