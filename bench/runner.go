package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

const (
	statusOK     = "ok"
	statusNA     = "n/a"
	statusFailed = "failed"

	statusPoll   = 10 * time.Millisecond // REST status polling while starting
	progressPoll = 20 * time.Millisecond // destination polling while transferring
	stallTimeout = 60 * time.Second      // no new record for this long fails the run
	stopGrace    = 30 * time.Second
)

// env is what every workload shares during one bench run.
type env struct {
	opts   options
	broker *broker
	work   string // scratch files
	logs   string // workers' logs, kept
	ticks  float64
	log    *slog.Logger
	runID  string

	mu     sync.Mutex
	topics []string // created by the harness, deleted at the end

	inputOnce  sync.Once
	inputPath  string
	inputErr   error
	filledOnce map[string]*fillResult
	plugins    map[string]map[string]bool // per system, filled by pluginsOf

	jdbc jdbcState // databases, input topic and table of the JDBC workloads

	secureOnce sync.Once
	secure     *broker // PLAINTEXT listener of the secured broker, nil without one
	secureErr  error
}

type fillResult struct {
	topic string
	took  time.Duration
	err   error
}

// topicName returns a fresh topic name for workload w on system s and remembers it
// for deletion at the end.
func (e *env) topicName(w, s string) string {
	t := fmt.Sprintf("bench-%s-%s-%s", e.runID, w, s)
	e.mu.Lock()
	e.topics = append(e.topics, t)
	e.mu.Unlock()
	return t
}

// forgetTopic drops t from the topics deleted at the end (one that lives on another
// broker, deleted by its workload).
func (e *env) forgetTopic(t string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, n := range e.topics {
		if n == t {
			e.topics = append(e.topics[:i], e.topics[i+1:]...)
			return
		}
	}
}

func (e *env) cleanupTopics() {
	if len(e.topics) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.broker.deleteTopics(ctx, e.topics...)
}

// line returns input line i (without newline): a 9-digit sequence number and filler,
// 99 bytes in all, so a line plus its newline is 100 bytes.
func line(i int) string {
	const filler = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJK"
	s := fmt.Sprintf("%09d ", i)
	return s + filler[:99-len(s)]
}

// jsonString is JsonConverter's bytes (schemas.enable=true) for a string value.
func jsonString(s string) string {
	return `{"schema":{"type":"string","optional":false},"payload":"` + s + `"}`
}

// inputFile writes the N-line input file once per run.
func (e *env) inputFile() (string, error) {
	e.inputOnce.Do(func() {
		e.inputPath = filepath.Join(e.work, "input.txt")
		f, err := os.Create(e.inputPath)
		if err != nil {
			e.inputErr = err
			return
		}
		w := bufio.NewWriterSize(f, 1<<20)
		for i := range e.opts.records {
			w.WriteString(line(i))
			w.WriteByte('\n')
		}
		if err := w.Flush(); err != nil {
			e.inputErr = err
		}
		if err := f.Close(); err != nil && e.inputErr == nil {
			e.inputErr = err
		}
	})
	return e.inputPath, e.inputErr
}

// filledTopic returns a topic holding the N input lines, encoded by enc ("string" or
// "json"), made once per run and shared by the sink workloads of both systems (each
// reads it with its own consumer group). The time to fill the "string" topic is the raw
// producer rate.
func (e *env) filledTopic(ctx context.Context, enc string) (*fillResult, error) {
	e.mu.Lock()
	if e.filledOnce == nil {
		e.filledOnce = map[string]*fillResult{}
	}
	if r, ok := e.filledOnce[enc]; ok {
		e.mu.Unlock()
		return r, r.err
	}
	e.mu.Unlock()
	topic := e.topicName("input-"+enc, "shared")
	r := &fillResult{topic: topic}
	if err := e.broker.createTopic(ctx, topic); err != nil {
		r.err = err
	} else {
		gen := func(i int) []byte { return []byte(line(i)) }
		if enc == "json" {
			gen = func(i int) []byte { return []byte(jsonString(line(i))) }
		}
		e.log.Info("filling input topic", "topic", topic, "records", e.opts.records)
		r.took, r.err = produceAll(ctx, e.broker.addr, topic, e.opts.records, gen)
	}
	e.mu.Lock()
	e.filledOnce[enc] = r
	e.mu.Unlock()
	return r, r.err
}

// converterProps are the worker's converter settings for enc.
func converterProps(enc string) map[string]string {
	switch enc {
	case "json":
		return map[string]string{
			"key.converter":                  "org.apache.kafka.connect.json.JsonConverter",
			"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
			"key.converter.schemas.enable":   "true",
			"value.converter.schemas.enable": "true",
		}
	default:
		return map[string]string{
			"key.converter":   "org.apache.kafka.connect.storage.StringConverter",
			"value.converter": "org.apache.kafka.connect.storage.StringConverter",
		}
	}
}

// pipeline describes one measured run of one system.
type pipeline struct {
	workload   string
	converter  string              // "string" or "json"
	worker     map[string]string   // worker properties over the defaults (another listener, security)
	connectors []map[string]string // each holds name and connector.class
	requires   []string            // plugin classes the worker must offer
	target     int64               // records to wait for; 0 means no transfer phase
	// counter reports how many records reached the destination so far.
	counter func(ctx context.Context) (int64, error)
	// verify checks the destination's content once target was reached.
	verify func(ctx context.Context) error
	// idle, when set, replaces the transfer phase: wait this long after RUNNING and
	// report the resident set then.
	idle time.Duration
	// settle, when set, is waited for after RUNNING before an idle phase (for example,
	// the few records of the idle workload reaching their sinks).
	settle func(ctx context.Context) (bool, error)
}

// runPipeline starts s with p's connectors and measures it.
func runPipeline(ctx context.Context, e *env, s system, p pipeline) *result {
	r := &result{Status: statusOK}
	fail := func(err error) *result {
		r.Status = statusFailed
		r.Note = oneLine(err.Error())
		e.log.Error("run failed", "workload", p.workload, "system", s.name, "err", err)
		return r
	}
	dir := filepath.Join(e.work, p.workload+"-"+s.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	wp := map[string]string{
		"bootstrap.servers":            e.broker.addr,
		"offset.storage.file.filename": filepath.Join(dir, "connect.offsets"),
		"offset.flush.interval.ms":     fmt.Sprint(e.opts.flushMS),
		"listeners":                    fmt.Sprintf("http://127.0.0.1:%d", port),
		// The classpath jars carry ServiceLoader manifests, so Apache can skip its
		// reflective scan (its fastest start); Ferry ignores the key.
		"plugin.discovery": "service_load",
	}
	for k, v := range converterProps(p.converter) {
		wp[k] = v
	}
	for k, v := range p.worker {
		wp[k] = v
	}
	workerFile := filepath.Join(dir, "worker.properties")
	if err := writeProps(workerFile, wp); err != nil {
		return fail(err)
	}
	var connFiles []string
	for _, c := range p.connectors {
		f := filepath.Join(dir, c["name"]+".properties")
		if err := writeProps(f, c); err != nil {
			return fail(err)
		}
		connFiles = append(connFiles, f)
	}

	if len(p.requires) > 0 {
		have, err := e.pluginsOf(ctx, s)
		if err != nil {
			return fail(err)
		}
		var missing []string
		for _, c := range p.requires {
			if !have[c] {
				missing = append(missing, shortClass(c))
			}
		}
		if len(missing) > 0 {
			r.Status = statusNA
			r.Note = "needs " + strings.Join(missing, ", ")
			return r
		}
	}

	logPath := filepath.Join(e.logs, fmt.Sprintf("%s-%s.log", p.workload, s.name))
	w, err := startWorker(s.argv(workerFile, connFiles), logPath, e.ticks)
	if err != nil {
		return fail(err)
	}
	defer w.stop(stopGrace)

	deadline := 2*time.Minute + time.Duration(p.target)*time.Second/2000
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	rc := newRESTClient(port)

	// Phase 1: REST answers.
	err = poll(ctx, w, statusPoll, func() (bool, error) {
		code, err := rc.get(ctx, "/", nil)
		return err == nil && code == http.StatusOK, nil
	})
	if err != nil {
		return fail(fmt.Errorf("waiting for REST: %w", err))
	}
	r.StartToRESTSeconds = time.Since(w.started).Seconds()
	// Phase 2: every connector and task RUNNING.
	err = poll(ctx, w, statusPoll, func() (bool, error) {
		for _, c := range p.connectors {
			var st connectorStatus
			code, err := rc.get(ctx, "/connectors/"+c["name"]+"/status", &st)
			if err != nil || code != http.StatusOK {
				return false, nil
			}
			ok, err := st.running()
			if err != nil {
				return false, fmt.Errorf("%s: %w", c["name"], err)
			}
			if !ok {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fail(fmt.Errorf("waiting for RUNNING: %w", err))
	}
	tRunning := time.Now()
	r.StartToRunningSeconds = tRunning.Sub(w.started).Seconds()

	switch {
	case p.idle > 0:
		if p.settle != nil {
			if err := poll(ctx, w, progressPoll, func() (bool, error) { return p.settle(ctx) }); err != nil {
				return fail(fmt.Errorf("waiting for the first records: %w", err))
			}
		}
		before, err := w.stats()
		if err != nil {
			return fail(err)
		}
		select {
		case <-time.After(p.idle):
		case <-ctx.Done():
			return fail(ctx.Err())
		}
		if err := w.alive(); err != nil {
			return fail(err)
		}
		after, err := w.stats()
		if err != nil {
			return fail(err)
		}
		r.RSSBytes, r.PeakRSSBytes, r.CPUSeconds = after.RSS, after.PeakRSS, after.CPUSeconds
		r.IdleCPUSeconds = after.CPUSeconds - before.CPUSeconds
		return r
	case p.target == 0:
		st, err := w.stats()
		if err != nil {
			return fail(err)
		}
		r.RSSBytes, r.PeakRSSBytes, r.CPUSeconds = st.RSS, st.PeakRSS, st.CPUSeconds
		return r
	}

	// Phase 3: transfer.
	var (
		tFirst, t99, tDone time.Time
		count              int64
		lastProgress       = time.Now()
	)
	err = poll(ctx, w, progressPoll, func() (bool, error) {
		n, err := p.counter(ctx)
		if err != nil {
			return false, err
		}
		now := time.Now()
		if n > count {
			count, lastProgress = n, now
			if tFirst.IsZero() {
				tFirst = now
			}
		} else if now.Sub(lastProgress) > stallTimeout {
			return false, fmt.Errorf("stalled at %d of %d records for %s", count, p.target, stallTimeout)
		}
		if t99.IsZero() && n*100 >= p.target*99 {
			t99 = now
		}
		if n >= p.target {
			tDone = now
			return true, nil
		}
		return false, nil
	})
	st, serr := w.stats()
	if err != nil {
		r.Records = count
		if !tFirst.IsZero() && count > 0 {
			r.RecordsPerSec = float64(count) / time.Since(tFirst).Seconds()
		}
		if serr == nil {
			r.PeakRSSBytes, r.CPUSeconds = st.PeakRSS, st.CPUSeconds
		}
		return fail(fmt.Errorf("after %d of %d records: %w", count, p.target, err))
	}
	if serr != nil {
		return fail(serr)
	}
	r.Records = count
	r.RSSBytes, r.PeakRSSBytes, r.CPUSeconds = st.RSS, st.PeakRSS, st.CPUSeconds
	r.TransferSeconds = tDone.Sub(tFirst).Seconds()
	if r.TransferSeconds < progressPoll.Seconds() {
		// Everything arrived between two polls: the poll interval bounds the time.
		r.TransferSeconds = progressPoll.Seconds()
		r.Note = "all records arrived within one poll interval; the rate is a lower bound"
	}
	r.RecordsPerSec = float64(p.target) / r.TransferSeconds
	r.EndToEndRecordsPerSec = float64(p.target) / tDone.Sub(tRunning).Seconds()
	if d := t99.Sub(tFirst).Seconds(); d > 0 {
		r.RecordsPerSec99 = 0.99 * float64(p.target) / d
		if r.RecordsPerSec99 > 1.5*r.RecordsPerSec {
			r.Note = joinNote(r.Note, fmt.Sprintf("the first 99%% arrived at %s rec/s; the last 1%% took %.1f s",
				commas(r.RecordsPerSec99), tDone.Sub(t99).Seconds()))
		}
	}
	if count > p.target {
		r.Note = joinNote(r.Note, fmt.Sprintf("destination holds %d records, %d expected (duplicates)", count, p.target))
	}
	if p.verify != nil {
		if err := p.verify(ctx); err != nil {
			r.Status = statusFailed
			r.Note = joinNote(r.Note, "wrong output: "+err.Error())
		}
	}
	return r
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func shortClass(c string) string {
	if i := strings.LastIndexByte(c, '.'); i >= 0 {
		return c[i+1:]
	}
	return c
}

// lineCounter counts the lines of a file that is being appended to, reading only
// what was added since the last call.
type lineCounter struct {
	path string
	f    *os.File
	n    int64
	buf  []byte
}

func (c *lineCounter) count(context.Context) (int64, error) {
	if c.f == nil {
		f, err := os.Open(c.path)
		if os.IsNotExist(err) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		c.f = f
		c.buf = make([]byte, 1<<20)
	}
	for {
		k, err := c.f.Read(c.buf)
		c.n += int64(bytes.Count(c.buf[:k], []byte{'\n'}))
		if err == io.EOF || k == 0 {
			return c.n, nil
		}
		if err != nil {
			return c.n, err
		}
	}
}

func (c *lineCounter) close() {
	if c.f != nil {
		c.f.Close()
	}
}

// checkFileLines verifies that the file holds exactly the lines want(0..n-1), checking
// the first and the last line and the count.
func checkFileLines(path string, n int, want func(i int) string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	i := 0
	var last string
	for sc.Scan() {
		if i == 0 && sc.Text() != want(0) {
			return fmt.Errorf("first line %q, want %q", trunc(sc.Text()), trunc(want(0)))
		}
		last = sc.Text()
		i++
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if i != n {
		return fmt.Errorf("%d lines, want %d", i, n)
	}
	if last != want(n-1) {
		return fmt.Errorf("last line %q, want %q", trunc(last), trunc(want(n-1)))
	}
	return nil
}

func trunc(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// oneLine squeezes a multi-line message into one bounded line for the report.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

// pluginsOf returns the plugin classes system s offers, asking a worker started
// without connectors once per run.
func (e *env) pluginsOf(ctx context.Context, s system) (map[string]bool, error) {
	e.mu.Lock()
	if m, ok := e.plugins[s.name]; ok {
		e.mu.Unlock()
		return m, nil
	}
	e.mu.Unlock()
	dir := filepath.Join(e.work, "plugins-"+s.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	wp := map[string]string{
		"bootstrap.servers":            e.broker.addr,
		"offset.storage.file.filename": filepath.Join(dir, "connect.offsets"),
		"listeners":                    fmt.Sprintf("http://127.0.0.1:%d", port),
		"plugin.discovery":             "service_load",
	}
	for k, v := range converterProps("string") {
		wp[k] = v
	}
	wf := filepath.Join(dir, "worker.properties")
	if err := writeProps(wf, wp); err != nil {
		return nil, err
	}
	w, err := startWorker(s.argv(wf, nil), filepath.Join(e.logs, "plugins-"+s.name+".log"), e.ticks)
	if err != nil {
		return nil, err
	}
	defer w.stop(stopGrace)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rc := newRESTClient(port)
	var m map[string]bool
	err = poll(ctx, w, 50*time.Millisecond, func() (bool, error) {
		var err error
		m, err = rc.plugins(ctx)
		return err == nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the plugins of %s: %w", s.name, err)
	}
	e.mu.Lock()
	e.plugins[s.name] = m
	e.mu.Unlock()
	return m, nil
}
