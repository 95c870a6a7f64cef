package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. Linux has
// used 100 on every mainstream architecture for decades; getconf confirms it when
// present.
func clockTicks() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && v > 0 {
			return float64(v)
		}
	}
	return 100
}

// worker is one running Connect worker process (Apache's JVM or Ferry).
type worker struct {
	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{} // closed when the process has been reaped
	waitErr error         // valid after exited is closed
	logPath string
	ticks   float64
}

// startWorker starts argv with its output in logPath. The process gets its own
// process group so stopping it never reaches the harness.
func startWorker(argv []string, logPath string, ticks float64) (*worker, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating log: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	w := &worker{cmd: cmd, exited: make(chan struct{}), logPath: logPath, ticks: ticks}
	w.started = time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	go func() {
		w.waitErr = cmd.Wait()
		logf.Close()
		close(w.exited)
	}()
	return w, nil
}

// alive reports an error when the process has already exited.
func (w *worker) alive() error {
	select {
	case <-w.exited:
		return fmt.Errorf("worker exited early (%v); last lines of %s:\n%s", w.waitErr, w.logPath, tailFile(w.logPath, 3))
	default:
		return nil
	}
}

// stop sends SIGTERM to the process group, waits up to grace, then SIGKILLs it.
func (w *worker) stop(grace time.Duration) {
	pgid := -w.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-w.exited:
		return
	case <-time.After(grace):
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	<-w.exited
}

// procStats is what /proc says about a process at one moment.
type procStats struct {
	RSS        int64   // VmRSS, bytes
	PeakRSS    int64   // VmHWM, bytes: the resident-set high-water mark since start
	CPUSeconds float64 // utime+stime of all threads
}

func (w *worker) stats() (procStats, error) {
	pid := w.cmd.Process.Pid
	var s procStats
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("reading status: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "VmRSS":
			s.RSS = parseKB(v)
		case "VmHWM":
			s.PeakRSS = parseKB(v)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("reading stat: %w", err)
	}
	// The command name (field 2) may hold spaces; the fields after its closing
	// parenthesis start with field 3 (state). utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return s, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	s.CPUSeconds = (ut + st) / w.ticks
	return s, nil
}

func parseKB(v string) int64 {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(f[0], 10, 64)
	return n * 1024
}

// tailFile returns the last n lines of a file, for error messages.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// poll calls cond every interval until it returns true, ctx ends or the worker dies.
func poll(ctx context.Context, w *worker, interval time.Duration, cond func() (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if w != nil {
			if err := w.alive(); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
