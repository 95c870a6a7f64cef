// Command profile runs a Ferry standalone worker in-process with CPU and heap
// profiling, so the bench's workloads can be profiled without hooks in Ferry itself:
//
//	go build -o /tmp/ferry-prof ./bench/profile
//	FERRY_PROF_DIR=/tmp/prof go run ./bench -ferry /tmp/ferry-prof -systems ferry -workloads file-sink
//	go tool pprof -top /tmp/ferry-prof /tmp/prof/cpu.pprof
//
// It takes the same "standalone WORKER.properties [CONNECTOR...]" arguments as
// ferry. On SIGTERM or SIGINT it stops the worker and writes, to $FERRY_PROF_DIR
// (default the working directory): cpu.pprof (the whole run), heap-peak.pprof (the
// heap profile taken when the in-use heap was largest) and heap-end.pprof.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/ferryhq/ferry/internal/app"
	"github.com/ferryhq/ferry/internal/props"
	"github.com/ferryhq/ferry/logging"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) < 3 || os.Args[1] != "standalone" {
		return fmt.Errorf("usage: %s standalone WORKER.properties [CONNECTOR...]", os.Args[0])
	}
	dir := os.Getenv("FERRY_PROF_DIR")
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	workerProps, err := props.ReadFile(os.Args[2])
	if err != nil {
		return err
	}
	var conns []map[string]string
	for _, p := range os.Args[3:] {
		c, err := props.ReadConnectorFile(p)
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}

	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		return err
	}
	defer cpu.Close()
	if err := pprof.StartCPUProfile(cpu); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	peakDone := make(chan error, 1)
	go func() { peakDone <- watchPeak(ctx, filepath.Join(dir, "heap-peak.pprof")) }()

	levels := logging.NewLevels(logging.LevelInfo)
	logger := slog.New(logging.NewHandler(slog.NewTextHandler(os.Stderr, nil), levels))
	runErr := app.RunStandalone(ctx, workerProps, conns, logger, levels, nil)
	stop()
	if err := <-peakDone; err != nil {
		return err
	}
	if err := writeHeap(filepath.Join(dir, "heap-end.pprof")); err != nil {
		return err
	}
	if runErr != nil && ctx.Err() == nil {
		return runErr
	}
	return nil
}

// watchPeak samples the in-use heap every 50 ms and writes a heap profile each time
// it reaches a new maximum, until ctx ends.
func watchPeak(ctx context.Context, path string) error {
	var ms runtime.MemStats
	var peak uint64
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > peak+1<<20 {
			peak = ms.HeapInuse
			if err := writeHeap(path); err != nil {
				return err
			}
		}
	}
}

func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
