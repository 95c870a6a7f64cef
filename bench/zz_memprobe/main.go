// Temporary local probe (not committed): standalone worker that on SIGUSR1 writes
// a heap profile after a GC and prints runtime/metrics memory classes.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"syscall"

	"github.com/ferryhq/ferry/internal/app"
	"github.com/ferryhq/ferry/internal/props"
	"github.com/ferryhq/ferry/logging"
)

func dump(dir string, n int) {
	runtime.GC()
	f, _ := os.Create(fmt.Sprintf("%s/heap-%d.pprof", dir, n))
	pprof.Lookup("heap").WriteTo(f, 0)
	f.Close()
	descs := metrics.All()
	var ss []metrics.Sample
	for _, d := range descs {
		if d.Kind == metrics.KindUint64 && (len(d.Name) > 8 && d.Name[:8] == "/memory/" || d.Name == "/sched/goroutines:goroutines" || d.Name == "/gc/heap/goal:bytes") {
			ss = append(ss, metrics.Sample{Name: d.Name})
		}
	}
	metrics.Read(ss)
	out, _ := os.Create(fmt.Sprintf("%s/metrics-%d.txt", dir, n))
	for _, s := range ss {
		fmt.Fprintf(out, "%-50s %10.1f KiB\n", s.Name, float64(s.Value.Uint64())/1024)
	}
	b := make([]byte, 1<<20)
	k := runtime.Stack(b, true)
	out.Write(b[:k])
	out.Close()
}

func main() {
	dir := os.Getenv("FERRY_PROF_DIR")
	os.MkdirAll(dir, 0o755)
	workerProps, err := props.ReadFile(os.Args[2])
	if err != nil {
		panic(err)
	}
	var conns []map[string]string
	for _, p := range os.Args[3:] {
		c, err := props.ReadConnectorFile(p)
		if err != nil {
			panic(err)
		}
		conns = append(conns, c)
	}
	usr := make(chan os.Signal, 1)
	signal.Notify(usr, syscall.SIGUSR1)
	go func() {
		n := 0
		for range usr {
			n++
			dump(dir, n)
		}
	}()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	levels := logging.NewLevels(logging.LevelInfo)
	logger := slog.New(logging.NewHandler(slog.NewTextHandler(os.Stderr, nil), levels))
	_ = app.RunStandalone(ctx, workerProps, conns, logger, levels, nil)
}
