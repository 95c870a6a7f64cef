package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Settings of the rebalance workload. Both systems get the same group timings:
// Apache's default session timeout and heartbeat, and no scheduled delay, so lost
// work is reassigned as soon as the group notices the loss.
const (
	clusterWorkers     = 3
	clusterConnectors  = 6
	sessionTimeoutMS   = 10000
	heartbeatMS        = 3000
	failoverPoll       = 50 * time.Millisecond
	clusterStartLimit  = 3 * time.Minute
	failoverLimit      = 2 * time.Minute
	rejoinLimit        = 90 * time.Second
	assignmentSettling = 30 * time.Second
)

// clusterWorker is one member of the bench's cluster: its process (replaced when it
// is restarted), its REST client and its worker id as the status API reports it.
type clusterWorker struct {
	proc *worker
	rest *restClient
	id   string // host:port
	file string
	log  string
}

// owned maps a worker id to the connectors and tasks ("name" or "name-N") it runs.
type owned map[string][]string

// clusterStatus reads every connector's status through one worker.
func clusterStatus(ctx context.Context, rc *restClient) (map[string]connectorStatus, error) {
	var all map[string]struct {
		Status connectorStatus `json:"status"`
	}
	code, err := rc.get(ctx, "/connectors?expand=status", &all)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /connectors?expand=status: HTTP %d", code)
	}
	out := make(map[string]connectorStatus, len(all))
	for name, v := range all {
		out[name] = v.Status
	}
	return out, nil
}

// owners reports who runs what, whether all want connectors and their tasks are
// RUNNING, and an error when one FAILED.
func owners(st map[string]connectorStatus, want []string) (owned, bool, error) {
	o := owned{}
	all := true
	for _, name := range want {
		s, found := st[name]
		if !found {
			all = false
			continue
		}
		ok, err := s.running()
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", name, err)
		}
		all = all && ok
		if s.Connector.State == "RUNNING" {
			o[s.Connector.WorkerID] = append(o[s.Connector.WorkerID], name)
		}
		for _, t := range s.Tasks {
			if t.State == "RUNNING" {
				o[t.WorkerID] = append(o[t.WorkerID], fmt.Sprintf("%s-%d", name, t.ID))
			}
		}
	}
	return o, all, nil
}

// rebalance: three distributed workers run six FileStream sources (one task each);
// in each of -rebalance-reps rounds the worker running the most of them is killed
// with SIGKILL, the time until all of its connectors and tasks are RUNNING on the
// other two is measured, and the killed worker is started again and the time until
// it runs some of them again is measured too. Medians are reported.
func rebalance(ctx context.Context, e *env, s system) *result {
	r := &result{Status: statusOK}
	fail := func(err error) *result {
		r.Status = statusFailed
		r.Note = joinNote(r.Note, oneLine(err.Error()))
		e.log.Error("run failed", "workload", "rebalance", "system", s.name, "err", err)
		return r
	}
	if s.distArgv == nil {
		r.Status, r.Note = statusNA, "no distributed mode"
		return r
	}
	dir := filepath.Join(e.work, "rebalance-"+s.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)

	topic := e.topicName("rebalance", s.name)
	if err := e.broker.createTopic(ctx, topic); err != nil {
		return fail(err)
	}
	group := fmt.Sprintf("bench-%s-rebalance-%s", e.runID, s.name)
	common := map[string]string{
		"bootstrap.servers":                 e.broker.addr,
		"group.id":                          group,
		"config.storage.topic":              e.topicName("rebalance-configs", s.name),
		"offset.storage.topic":              e.topicName("rebalance-offsets", s.name),
		"status.storage.topic":              e.topicName("rebalance-status", s.name),
		"config.storage.replication.factor": "1",
		"offset.storage.replication.factor": "1",
		"status.storage.replication.factor": "1",
		"offset.storage.partitions":         "5",
		"status.storage.partitions":         "3",
		"session.timeout.ms":                fmt.Sprint(sessionTimeoutMS),
		"heartbeat.interval.ms":             fmt.Sprint(heartbeatMS),
		"scheduled.rebalance.max.delay.ms":  "0",
		"offset.flush.interval.ms":          fmt.Sprint(e.opts.flushMS),
		"plugin.discovery":                  "service_load",
		"rest.advertised.host.name":         "127.0.0.1",
	}
	for k, v := range converterProps("string") {
		common[k] = v
	}

	workers := make([]*clusterWorker, clusterWorkers)
	for i := range workers {
		port, err := freePort()
		if err != nil {
			return fail(err)
		}
		wp := map[string]string{
			"listeners":            fmt.Sprintf("http://127.0.0.1:%d", port),
			"rest.advertised.port": fmt.Sprint(port),
		}
		for k, v := range common {
			wp[k] = v
		}
		cw := &clusterWorker{rest: newRESTClient(port), id: fmt.Sprintf("127.0.0.1:%d", port),
			file: filepath.Join(dir, fmt.Sprintf("worker-%d.properties", i)),
			log:  filepath.Join(e.logs, fmt.Sprintf("rebalance-%s-%d.log", s.name, i))}
		if err := writeProps(cw.file, wp); err != nil {
			return fail(err)
		}
		workers[i] = cw
	}
	defer func() {
		for _, w := range workers {
			if w.proc != nil {
				w.proc.stop(stopGrace)
			}
		}
	}()
	for _, w := range workers {
		p, err := startWorker(s.distArgv(w.file), w.log, e.ticks)
		if err != nil {
			return fail(err)
		}
		w.proc = p
	}
	began := workers[0].proc.started

	cctx, cancel := context.WithTimeout(ctx, clusterStartLimit)
	defer cancel()
	for _, w := range workers {
		err := poll(cctx, w.proc, statusPoll, func() (bool, error) {
			code, err := w.rest.get(cctx, "/", nil)
			return err == nil && code == http.StatusOK, nil
		})
		if err != nil {
			return fail(fmt.Errorf("waiting for the REST API of %s: %w", w.id, err))
		}
	}

	// The connectors are created through the first worker; it forwards to the leader.
	// Until the group has formed, workers answer 409 (rebalance under way) or 5xx.
	var names []string
	for i := range clusterConnectors {
		name := fmt.Sprintf("rebalance-source-%d", i)
		names = append(names, name)
		in := filepath.Join(dir, name+".txt")
		if err := os.WriteFile(in, []byte(line(i)+"\n"), 0o644); err != nil {
			return fail(err)
		}
		body := map[string]any{"name": name, "config": map[string]string{
			"connector.class": "FileStreamSource", "tasks.max": "1", "file": in, "topic": topic}}
		var last string
		err := poll(cctx, workers[0].proc, 200*time.Millisecond, func() (bool, error) {
			code, b, err := workers[0].rest.post(cctx, "/connectors", body)
			switch {
			case err != nil:
				last = err.Error()
				return false, nil
			case code == http.StatusCreated:
				return true, nil
			case code == http.StatusBadRequest:
				return false, fmt.Errorf("creating %s: HTTP 400: %s", name, b)
			}
			last = fmt.Sprintf("HTTP %d: %s", code, b)
			return false, nil
		})
		if err != nil {
			return fail(fmt.Errorf("creating %s (last answer %s): %w", name, last, err))
		}
	}

	// Wait for everything RUNNING the first time: the cluster's start-up.
	err := poll(cctx, workers[0].proc, statusPoll, func() (bool, error) {
		st, err := clusterStatus(cctx, workers[0].rest)
		if err != nil {
			return false, nil
		}
		_, all, err := owners(st, names)
		return all, err
	})
	if err != nil {
		return fail(fmt.Errorf("waiting for the connectors to run: %w", err))
	}
	r.StartToRunningSeconds = time.Since(began).Seconds()

	reps := max(e.opts.rebalanceReps, 1)
	for rep := range reps {
		if err := killAndRejoin(ctx, e, s, r, workers, names, rep == 0); err != nil {
			return fail(fmt.Errorf("round %d of %d: %w", rep+1, reps, err))
		}
	}
	// The median round by failover time is reported; every round's times are kept.
	idx := make([]int, reps)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return r.FailoverSamples[idx[a]] < r.FailoverSamples[idx[b]] })
	r.FailoverSeconds = r.FailoverSamples[idx[reps/2]]
	rj := append([]float64(nil), r.RejoinSamples...)
	sort.Float64s(rj)
	r.RejoinSeconds = rj[len(rj)/2]
	if r.RejoinSeconds < 0 {
		r.RejoinSeconds = 0 // a round where the restarted worker got nothing
	}
	return r
}

// killAndRejoin is one measured round: once everything runs (spread over the three
// workers, within a bound) and one heartbeat has passed, the worker running the most
// is killed with SIGKILL; the time until all of its work runs on the other two is a
// failover sample. The killed worker is then started again with the same settings,
// and the time until it runs some of the work again is a rejoin sample (-1 when it
// got nothing in time). first also samples every member's memory and CPU.
func killAndRejoin(ctx context.Context, e *env, s system, r *result, workers []*clusterWorker, names []string, first bool) error {
	sctx, cancel := context.WithTimeout(ctx, clusterStartLimit)
	defer cancel()
	var own owned
	var allSince time.Time
	err := poll(sctx, nil, statusPoll, func() (bool, error) {
		st, err := clusterStatus(sctx, workers[0].rest)
		if err != nil {
			return false, nil
		}
		o, all, err := owners(st, names)
		if err != nil || !all {
			return false, err
		}
		own = o
		if allSince.IsZero() {
			allSince = time.Now()
		}
		return len(o) == clusterWorkers || time.Since(allSince) > assignmentSettling, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the connectors to run: %w", err)
	}
	time.Sleep(heartbeatMS * time.Millisecond)
	if st, err := clusterStatus(sctx, workers[0].rest); err == nil {
		if o, all, err := owners(st, names); err == nil && all {
			own = o
		}
	}
	for _, w := range workers {
		if err := w.proc.alive(); err != nil {
			return err
		}
	}
	if first {
		for _, w := range workers {
			ps, err := w.proc.stats()
			if err != nil {
				return err
			}
			r.Cluster = append(r.Cluster, clusterSample{WorkerID: w.id, Owned: len(own[w.id]),
				RSSBytes: ps.RSS, PeakRSSBytes: ps.PeakRSS, CPUSeconds: ps.CPUSeconds})
			r.PeakRSSBytes += ps.PeakRSS / clusterWorkers
			r.RSSBytes += ps.RSS / clusterWorkers
			r.CPUSeconds += ps.CPUSeconds / clusterWorkers
		}
	}

	// The victim runs the most; the next member is asked for status.
	victim := 0
	for i, w := range workers {
		if len(own[w.id]) > len(own[workers[victim].id]) {
			victim = i
		}
	}
	vw := workers[victim]
	lost := append([]string(nil), own[vw.id]...)
	sort.Strings(lost)
	if len(lost) == 0 {
		return fmt.Errorf("no worker runs anything: %v", own)
	}
	watcher := workers[(victim+1)%clusterWorkers]
	e.log.Info("killing a worker", "system", s.name, "worker", vw.id, "runs", strings.Join(lost, ","))

	tKill := time.Now()
	if err := syscall.Kill(-vw.proc.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -9: %w", err)
	}
	<-vw.proc.exited
	fctx, fcancel := context.WithTimeout(ctx, failoverLimit)
	defer fcancel()
	err = poll(fctx, watcher.proc, failoverPoll, func() (bool, error) {
		st, err := clusterStatus(fctx, watcher.rest)
		if err != nil {
			return false, nil
		}
		o, all, err := owners(st, names)
		if err != nil || !all {
			return false, err
		}
		return len(o[vw.id]) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the %d connectors and tasks of the killed worker to run elsewhere: %w", len(lost), err)
	}
	r.FailoverSamples = append(r.FailoverSamples, time.Since(tKill).Seconds())
	if first {
		r.Note = fmt.Sprintf("first round: killed %s running %d of %d connectors and tasks (%s)", vw.id, len(lost),
			2*clusterConnectors, strings.Join(lost, ", "))
	}

	// Rejoin: the same worker (same id) starts again and gets a share of the work.
	vw.log = strings.TrimSuffix(vw.log, ".log") + "-rejoin.log"
	p, err := startWorker(s.distArgv(vw.file), vw.log, e.ticks)
	if err != nil {
		return err
	}
	vw.proc = p
	jctx, jcancel := context.WithTimeout(ctx, rejoinLimit)
	defer jcancel()
	rest := 0.0
	err = poll(jctx, vw.proc, failoverPoll, func() (bool, error) {
		if rest == 0 {
			if code, err := vw.rest.get(jctx, "/", nil); err == nil && code == http.StatusOK {
				rest = time.Since(p.started).Seconds()
			}
		}
		st, err := clusterStatus(jctx, watcher.rest)
		if err != nil {
			return false, nil
		}
		o, _, err := owners(st, names)
		return err == nil && len(o[vw.id]) > 0, err
	})
	r.RejoinRESTSamples = append(r.RejoinRESTSamples, rest)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		r.RejoinSamples = append(r.RejoinSamples, -1)
		r.Note = joinNote(r.Note, fmt.Sprintf("a restarted worker ran nothing within %s", rejoinLimit))
	case err != nil:
		return fmt.Errorf("after the restart: %w", err)
	default:
		r.RejoinSamples = append(r.RejoinSamples, time.Since(p.started).Seconds())
	}
	if first || rest > 0 && rest < r.RejoinRESTSeconds {
		r.RejoinRESTSeconds = rest
	}
	return nil
}

// clusterSample is one cluster member's resident set and CPU time once every
// connector and task runs, before the kill.
type clusterSample struct {
	WorkerID     string  `json:"worker_id"`
	Owned        int     `json:"connectors_and_tasks"`
	RSSBytes     int64   `json:"rss_bytes"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	CPUSeconds   float64 `json:"cpu_seconds"`
}
