package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// result is one system's measurement of one workload.
type result struct {
	System                string    `json:"system"`
	Status                string    `json:"status"` // ok, n/a, failed
	Note                  string    `json:"note,omitempty"`
	Records               int64     `json:"records,omitempty"`
	RecordsPerSec         float64   `json:"records_per_sec,omitempty"`
	RecordsPerSec99       float64   `json:"records_per_sec_first_99pct,omitempty"` // 0.99 N over the time to reach it
	TransferSeconds       float64   `json:"transfer_seconds,omitempty"`
	EndToEndRecordsPerSec float64   `json:"end_to_end_records_per_sec,omitempty"` // from RUNNING, not from the first record
	PeakRSSBytes          int64     `json:"peak_rss_bytes,omitempty"`
	RSSBytes              int64     `json:"rss_bytes,omitempty"`
	CPUSeconds            float64   `json:"cpu_seconds,omitempty"`
	IdleCPUSeconds        float64   `json:"idle_cpu_seconds,omitempty"`
	StartToRESTSeconds    float64   `json:"start_to_rest_seconds,omitempty"`
	StartToRunningSeconds float64   `json:"start_to_running_seconds,omitempty"`
	StartupSamples        []float64 `json:"startup_samples_seconds,omitempty"`
	// The rebalance workload: kill -9 → every connector and task of the killed worker
	// RUNNING on another (median round); restart of the killed worker → its REST API
	// answers (fastest round), and → it runs a connector or task again (median round);
	// each member's figures before the first kill.
	FailoverSeconds   float64         `json:"failover_seconds,omitempty"`
	RejoinRESTSeconds float64         `json:"rejoin_rest_seconds,omitempty"`
	RejoinSeconds     float64         `json:"rejoin_seconds,omitempty"`
	Cluster           []clusterSample `json:"cluster,omitempty"`
	FailoverSamples   []float64       `json:"failover_samples_seconds,omitempty"`
	RejoinRESTSamples []float64       `json:"rejoin_rest_samples_seconds,omitempty"`
	RejoinSamples     []float64       `json:"rejoin_samples_seconds,omitempty"` // -1: got nothing in time
}

// limitResult is a plain franz-go client's rate on the bench's broker.
type limitResult struct {
	Records       int     `json:"records"`
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"records_per_sec"`
	// Set when the client ran in a process of its own (the JDBC source limit).
	PeakRSSBytes int64   `json:"peak_rss_bytes,omitempty"`
	CPUSeconds   float64 `json:"cpu_seconds,omitempty"`
	Note         string  `json:"note,omitempty"`
}

type workloadResult struct {
	Name   string       `json:"name"`
	Title  string       `json:"title"`
	Kind   string       `json:"kind"`
	Apache *result      `json:"apache,omitempty"`
	Ferry  *result      `json:"ferry,omitempty"`
	Limit  *limitResult `json:"limit,omitempty"`
}

type target struct {
	Goal   string `json:"goal"`
	Actual string `json:"actual"`
	Met    *bool  `json:"met"` // nil when it could not be evaluated
}

type microResult struct {
	Package     string  `json:"package"`
	Name        string  `json:"name"`
	Iterations  int64   `json:"iterations"`
	NsPerOp     float64 `json:"ns_per_op"`
	MBPerSec    float64 `json:"mb_per_sec,omitempty"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	AllocsPerOp float64 `json:"allocs_per_op"`
	Extra       string  `json:"extra,omitempty"` // custom metrics, e.g. "797297 records/s"
}

type report struct {
	Started         string           `json:"started"`
	DurationSeconds float64          `json:"duration_seconds"`
	Command         string           `json:"command,omitempty"`
	Records         int              `json:"records"`
	ApacheHeap      string           `json:"apache_heap"`
	ApacheJVMOpts   string           `json:"apache_jvm_opts"`
	FlushIntervalMS int              `json:"offset_flush_interval_ms"`
	Machine         machine          `json:"machine"`
	Workloads       []workloadResult `json:"workloads"`
	Targets         []target         `json:"targets"`
	Micro           []microResult    `json:"microbenchmarks,omitempty"`
}

func (r *report) find(name string) *workloadResult {
	for i := range r.Workloads {
		if r.Workloads[i].Name == name {
			return &r.Workloads[i]
		}
	}
	return nil
}

func ok(r *result) bool { return r != nil && r.Status == statusOK }

// evaluateTargets checks the goals of the benchmark issue against this run.
func (r *report) evaluateTargets() {
	r.Targets = nil
	add := func(goal, actual string, met *bool) {
		r.Targets = append(r.Targets, target{Goal: goal, Actual: actual, Met: met})
	}
	yes := func(b bool) *bool { return &b }
	for _, n := range []string{"file-source", "file-sink", "file-source-json", "file-sink-json"} {
		w := r.find(n)
		if w == nil {
			continue
		}
		goal := "≥ 3× Apache's records/s: " + w.Title
		if !ok(w.Apache) || !ok(w.Ferry) {
			add(goal, "not measured", nil)
			continue
		}
		x := w.Ferry.RecordsPerSec / w.Apache.RecordsPerSec
		add(goal, fmt.Sprintf("%.2f×", x), yes(x >= 3))
	}
	// A trivial source against the raw producer on the same listener.
	for _, pair := range [][2]string{
		{"file-source", "limit-producer"},
		{"file-source-plain-securebroker", "limit-producer-securebroker"},
		{"file-source-sasl-ssl", "limit-producer-sasl-ssl"},
	} {
		w, p := r.find(pair[0]), r.find(pair[1])
		if w == nil || p == nil {
			continue
		}
		goal := "≥ 70% of the raw producer rate for a trivial source (" + w.Title + ")"
		if pair[0] == "file-source" {
			goal = "≥ 70% of the raw producer rate for a trivial source (FileStream source, String)"
		}
		if ok(w.Ferry) && p.Limit != nil && p.Limit.RecordsPerSec > 0 {
			x := w.Ferry.RecordsPerSec / p.Limit.RecordsPerSec
			add(goal, fmt.Sprintf("%.0f%%", 100*x), yes(x >= 0.7))
		} else {
			add(goal, "not measured", nil)
		}
	}
	for _, w := range r.Workloads {
		if w.Kind != "throughput" && w.Kind != "idle" && w.Kind != "startup" {
			continue
		}
		if w.Apache != nil && w.Apache.Status == statusNA || w.Ferry != nil && w.Ferry.Status == statusNA {
			continue
		}
		goal := "≤ 1/10 of Apache's peak RSS: " + w.Title
		a, f := peak(w.Apache), peak(w.Ferry)
		if w.Kind == "idle" {
			goal = "≤ 1/10 of Apache's RSS: " + w.Title
			a, f = rss(w.Apache), rss(w.Ferry)
		}
		if a == 0 || f == 0 {
			add(goal, "not measured", nil)
			continue
		}
		add(goal, fmt.Sprintf("1/%.1f", float64(a)/float64(f)), yes(f*10 <= a))
	}
	if w := r.find("startup"); w != nil {
		goal := "start-up ≤ 1/20 of Apache's (process start → connector and task RUNNING)"
		if ok(w.Apache) && ok(w.Ferry) && w.Ferry.StartToRunningSeconds > 0 {
			x := w.Apache.StartToRunningSeconds / w.Ferry.StartToRunningSeconds
			add(goal, fmt.Sprintf("1/%.0f", x), yes(x >= 20))
		} else {
			add(goal, "not measured", nil)
		}
	}
}

func peak(r *result) int64 {
	if r == nil || r.Status == statusNA {
		return 0
	}
	return r.PeakRSSBytes
}

func rss(r *result) int64 {
	if r == nil || r.Status == statusNA {
		return 0
	}
	return r.RSSBytes
}

// cells formats one workload row: workload, Apache rec/s, Ferry rec/s, ratio, RSS,
// CPU, start → RUNNING.
func (w *workloadResult) cells() []string {
	if w.Limit != nil {
		rate := "failed"
		if strings.HasPrefix(w.Limit.Note, statusNA) {
			rate = statusNA
		}
		if w.Limit.RecordsPerSec > 0 {
			rate = commas(w.Limit.RecordsPerSec)
		}
		mem, cpu := "", ""
		if w.Limit.PeakRSSBytes > 0 {
			mem = fmt.Sprintf("%.0f", float64(w.Limit.PeakRSSBytes)/(1<<20))
			cpu = fmt.Sprintf("%.1f", w.Limit.CPUSeconds)
		}
		return []string{w.Title, rate, "", "", mem, cpu, ""}
	}
	rate := func(r *result) string {
		switch {
		case r == nil:
			return "—"
		case r.Status == statusNA:
			return "n/a"
		case r.Status == statusFailed:
			return "failed"
		case w.Kind != "throughput":
			return "—"
		}
		return commas(r.RecordsPerSec)
	}
	ratio := ""
	if w.Kind == "throughput" && ok(w.Apache) && ok(w.Ferry) && w.Apache.RecordsPerSec > 0 {
		ratio = fmt.Sprintf("%.2f×", w.Ferry.RecordsPerSec/w.Apache.RecordsPerSec)
	}
	mem := func(r *result) string {
		if r == nil || r.Status == statusNA {
			return "—"
		}
		b := r.PeakRSSBytes
		if w.Kind == "idle" {
			b = r.RSSBytes
		}
		if b == 0 {
			return "—"
		}
		return fmt.Sprintf("%.0f", float64(b)/(1<<20))
	}
	cpu := func(r *result) string {
		if r == nil || r.Status == statusNA || r.Status == statusFailed && r.CPUSeconds == 0 {
			return "—"
		}
		return fmt.Sprintf("%.1f", r.CPUSeconds)
	}
	start := func(r *result) string {
		if w.Kind == "rebalance" {
			// This row's time is kill -9 → RUNNING elsewhere.
			if r == nil || r.FailoverSeconds == 0 {
				return "—"
			}
			return fmt.Sprintf("%.2f", r.FailoverSeconds)
		}
		if r == nil || r.Status == statusNA || r.StartToRunningSeconds == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f", r.StartToRunningSeconds)
	}
	return []string{w.Title, rate(w.Apache), rate(w.Ferry), ratio,
		mem(w.Apache) + " / " + mem(w.Ferry), cpu(w.Apache) + " / " + cpu(w.Ferry),
		start(w.Apache) + " / " + start(w.Ferry)}
}

var header = []string{"Workload", "Apache rec/s", "Ferry rec/s", "Ferry/Apache",
	"RSS MiB A / F", "CPU s A / F", "start→RUNNING s A / F"}

// notes lists the rows' notes (n/a reasons, failures, caveats) once each.
func (r *report) notes() []string {
	var out []string
	for _, w := range r.Workloads {
		if w.Limit != nil && (strings.HasPrefix(w.Limit.Note, "failed") || strings.HasPrefix(w.Limit.Note, statusNA)) {
			out = append(out, fmt.Sprintf("%s: %s", w.Title, w.Limit.Note))
		}
		if w.Kind == "pending" && w.Apache != nil {
			out = append(out, fmt.Sprintf("%s: n/a — %s", w.Title, w.Apache.Note))
			continue
		}
		for _, res := range []*result{w.Apache, w.Ferry} {
			if res != nil && res.Note != "" {
				out = append(out, fmt.Sprintf("%s, %s: %s: %s", w.Title, res.System, res.Status, res.Note))
			}
		}
	}
	return out
}

func (r *report) textTable() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, w := range r.Workloads {
		fmt.Fprintln(tw, strings.Join(w.cells(), "\t"))
	}
	tw.Flush()
	b.WriteString("\nLimit rows: the plain client's rate is in the Apache column.\n")
	if notes := r.notes(); len(notes) > 0 {
		b.WriteString("\nNotes:\n")
		for _, n := range notes {
			b.WriteString("  - " + n + "\n")
		}
	}
	b.WriteString(r.clusterMarkdown())
	b.WriteString("\nTargets:\n")
	for _, t := range r.Targets {
		b.WriteString("  " + mark(t.Met) + " " + t.Goal + ": " + t.Actual + "\n")
	}
	return b.String()
}

func mark(m *bool) string {
	switch {
	case m == nil:
		return "?"
	case *m:
		return "met"
	default:
		return "MISSED"
	}
}

func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Ferry vs Apache Kafka Connect 4.1.1: benchmark run\n\n")
	fmt.Fprintf(&b, "Started %s, took %.0f s. %s records per throughput workload, 100-byte lines.\n",
		r.Started, r.DurationSeconds, commas(float64(r.Records)))
	if r.Command != "" {
		fmt.Fprintf(&b, "Command: `%s`.\n", r.Command)
	}
	b.WriteString("\n## Machine\n\n")
	b.WriteString(r.Machine.markdown())
	fmt.Fprintf(&b, "\nApache worker: `java %s %s`, standalone, `plugin.discovery=service_load`. "+
		"Both workers: `offset.flush.interval.ms=%d`, default producer and consumer settings, one-partition topics.\n",
		r.ApacheHeap, r.ApacheJVMOpts, r.FlushIntervalMS)
	b.WriteString("\n## Results\n\n")
	b.WriteString("| " + strings.Join(header, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat(" --- |", len(header)) + "\n")
	for _, w := range r.Workloads {
		c := w.cells()
		for i := range c {
			c[i] = strings.ReplaceAll(c[i], "|", `\|`)
		}
		b.WriteString("| " + strings.Join(c, " | ") + " |\n")
	}
	b.WriteString("\nLimit rows give the plain franz-go client's rate in the Apache column. " +
		"RSS is the peak (VmHWM) except in the idle row, where it is VmRSS after idling. " +
		"In the rebalance row RSS and CPU are the mean per worker before the kill, and the last column is kill -9 → RUNNING elsewhere.\n")
	if notes := r.notes(); len(notes) > 0 {
		b.WriteString("\nNotes:\n\n")
		for _, n := range notes {
			b.WriteString("- " + n + "\n")
		}
	}
	b.WriteString(r.clusterMarkdown())
	b.WriteString("\n## Targets\n\n| Goal | This run | Met |\n| --- | --- | --- |\n")
	for _, t := range r.Targets {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", t.Goal, t.Actual, mark(t.Met))
	}
	if len(r.Micro) > 0 {
		b.WriteString("\n## Go microbenchmarks\n\n| Package | Benchmark | ns/op | MB/s | B/op | allocs/op | other |\n| --- | --- | ---: | ---: | ---: | ---: | --- |\n")
		for _, m := range r.Micro {
			mb := ""
			if m.MBPerSec > 0 {
				mb = fmt.Sprintf("%.1f", m.MBPerSec)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %.0f | %.0f | %s |\n", m.Package, m.Name,
				commas(m.NsPerOp), mb, m.BytesPerOp, m.AllocsPerOp, m.Extra)
		}
	}
	return b.String()
}

// clusterMarkdown details the rebalance workload: the times and each member's
// memory and CPU, or nothing when it did not run.
func (r *report) clusterMarkdown() string {
	w := r.find("rebalance")
	if w == nil || w.Kind != "rebalance" {
		return ""
	}
	var b strings.Builder
	secs := func(v float64) string {
		if v == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f", v)
	}
	mib := func(v int64) string { return fmt.Sprintf("%.0f", float64(v)/(1<<20)) }
	for _, res := range []*result{w.Apache, w.Ferry} {
		if res == nil || res.Status == statusNA || len(res.Cluster) == 0 {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("\n## Rebalance: 3-worker cluster, 6 FileStream sources\n\n" +
				"Medians of the rounds, every round in brackets; per worker: before the first kill.\n\n" +
				"| System | cluster start → all RUNNING s | kill -9 → RUNNING elsewhere s | restart → REST s | restart → runs work again s | " +
				"per worker: connectors+tasks, RSS MiB (peak), CPU s |\n| --- | --- | --- | --- | --- | --- |\n")
		}
		var per []string
		for _, c := range res.Cluster {
			per = append(per, fmt.Sprintf("%d, %s (%s), %.1f", c.Owned, mib(c.RSSBytes), mib(c.PeakRSSBytes), c.CPUSeconds))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", res.System, secs(res.StartToRunningSeconds),
			withSamples(res.FailoverSeconds, res.FailoverSamples), secs(res.RejoinRESTSeconds),
			withSamples(res.RejoinSeconds, res.RejoinSamples), strings.Join(per, "; "))
	}
	return b.String()
}

// withSamples formats a median and its samples: "12.00 (11.2, 12.0, 12.9)".
func withSamples(v float64, samples []float64) string {
	if v == 0 && len(samples) == 0 {
		return "—"
	}
	if len(samples) < 2 {
		return fmt.Sprintf("%.2f", v)
	}
	var parts []string
	for _, x := range samples {
		if x < 0 {
			parts = append(parts, "none")
			continue
		}
		parts = append(parts, fmt.Sprintf("%.1f", x))
	}
	return fmt.Sprintf("%.2f (%s)", v, strings.Join(parts, ", "))
}

func (r *report) write(dir string) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bench-results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "bench-results.md"), []byte(r.markdown()), 0o644)
}

// commas formats v as an integer with thousands separators.
func commas(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func sortBy[T any](s []T, key func(T) float64) {
	sort.SliceStable(s, func(i, j int) bool { return key(s[i]) < key(s[j]) })
}

// parseMicro reads 'go test -bench -benchmem' output.
func parseMicro(path string) ([]microResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []microResult
	pkg := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && fields[0] == "pkg:" {
			pkg = strings.TrimPrefix(fields[1], "github.com/ferryhq/ferry/")
			continue
		}
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		m := microResult{Package: pkg, Name: fields[0]}
		m.Iterations, _ = strconv.ParseInt(fields[1], 10, 64)
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			switch fields[i+1] {
			case "ns/op":
				m.NsPerOp = v
			case "MB/s":
				m.MBPerSec = v
			case "B/op":
				m.BytesPerOp = v
			case "allocs/op":
				m.AllocsPerOp = v
			default:
				m.Extra = strings.TrimSpace(m.Extra + " " + fields[i] + " " + fields[i+1])
			}
		}
		out = append(out, m)
	}
	return out, sc.Err()
}
