package e2e

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
)

// sample is one line of the Prometheus text format.
type sample struct {
	name, labels string
	value        float64
}

// scrape reads GET /metrics in the Prometheus text format.
func scrape(t *testing.T, w *worker) []sample {
	t.Helper()
	r := w.call(t, "GET", "/metrics", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", r.status, r.header.Get("Content-Type"))
	}
	var out []sample
	for _, line := range strings.Split(string(r.body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q: %v", line, err)
		}
		s := sample{name: line[:i], value: v}
		if j := strings.IndexByte(s.name, '{'); j >= 0 {
			s.name, s.labels = s.name[:j], s.name[j:]
		}
		out = append(out, s)
	}
	return out
}

// sum adds the samples of name whose labels hold client_id="client".
func sum(samples []sample, name, client string) (float64, bool) {
	var total float64
	found := false
	for _, s := range samples {
		if s.name == name && strings.Contains(s.labels, `client_id="`+client+`"`) {
			total += s.value
			found = true
		}
	}
	return total, found
}

// TestMetricsEndpoint runs a FileStream source → sink pipeline and scrapes
// /metrics: the connector clients' franz-go counters move, the Go runtime
// and process metrics are there, and deleting the connectors removes their
// clients' series.
func TestMetricsEndpoint(t *testing.T) {
	w := startWorker(t, nil)
	topic := testbed.UniqueName(t, "metrics")
	src, snk := testbed.UniqueName(t, "metrics-src"), testbed.UniqueName(t, "metrics-sink")
	in, out := filepath.Join(w.dir, "in.txt"), filepath.Join(w.dir, "out.txt")
	const lines = 50
	var b strings.Builder
	for i := range lines {
		fmt.Fprintf(&b, "line-%d\n", i)
	}
	writeFile(t, in, b.String())
	createConnector(t, w, src, map[string]string{"connector.class": "FileStreamSource", "tasks.max": "1", "file": in, "topic": topic})
	createConnector(t, w, snk, map[string]string{"connector.class": "FileStreamSink", "tasks.max": "1", "file": out, "topics": topic})
	testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
		n := countLines(out)
		return n == lines, fmt.Sprintf("%d lines in the sink file", n)
	})

	producer, consumer := "connector-producer-"+src+"-0", "connector-consumer-"+snk+"-0"
	var samples []sample
	testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		samples = scrape(t, w)
		var missing []string
		for _, c := range []struct{ name, client string }{
			{"kgo_produce_records_total", producer}, {"kgo_produce_bytes_total", producer},
			{"kgo_write_bytes_total", producer},
			{"kgo_fetch_records_total", consumer}, {"kgo_fetch_bytes_total", consumer},
			{"kgo_read_bytes_total", consumer},
		} {
			if v, _ := sum(samples, c.name, c.client); v <= 0 {
				missing = append(missing, fmt.Sprintf("%s{client_id=%q}=%v", c.name, c.client, v))
			}
		}
		return len(missing) == 0, strings.Join(missing, ", ")
	})
	recs, _ := sum(samples, "kgo_produce_records_total", producer)
	fetched, _ := sum(samples, "kgo_fetch_records_total", consumer)
	if recs != lines || fetched != lines {
		t.Errorf("produced %v and fetched %v records, want %d each", recs, fetched, lines)
	}
	families := map[string]bool{}
	for _, s := range samples {
		families[s.name] = true
	}
	t.Logf("%d samples in %d families: %v", len(samples), len(families), slices.Sorted(maps.Keys(families)))
	t.Logf("%d samples; %s produced %v records, %s fetched %v", len(samples), producer, recs, consumer, fetched)
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total"} {
		found := false
		for _, s := range samples {
			found = found || s.name == name
		}
		if !found {
			t.Errorf("%s missing from /metrics", name)
		}
	}

	for _, name := range []string{src, snk} {
		expectStatus(t, w.call(t, "DELETE", "/connectors/"+name, nil), 204)
	}
	testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		var left []string
		for _, s := range scrape(t, w) {
			if strings.Contains(s.labels, `client_id="`+producer+`"`) || strings.Contains(s.labels, `client_id="`+consumer+`"`) {
				left = append(left, s.name+s.labels)
			}
		}
		if len(left) == 0 {
			t.Logf("no %s or %s series left after deleting the connectors", producer, consumer)
		}
		return len(left) == 0, fmt.Sprintf("%d series left, e.g. %v", len(left), left[:min(3, len(left))])
	})
	_ = os.Remove(in)
}

// TestMetricsDistributed runs two distributed workers in one process:
// each serves its own registry, in which its internal topics' and group
// member's clients report under their Apache client ids, although the
// other worker's clients have the same ids.
func TestMetricsDistributed(t *testing.T) {
	c := newCluster(t)
	g := c.props["group.id"]
	workers := []*worker{c.startInProcess(t, "a"), c.startInProcess(t, "b")}
	for _, w := range workers {
		w.waitHealthy(t)
	}
	for i, w := range workers {
		testbed.WaitFor(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
			samples := scrape(t, w)
			var missing []string
			for _, client := range []string{g + "-configs", g + "-offsets", g + "-statuses", g + "-connect"} {
				if v, _ := sum(samples, "kgo_read_bytes_total", client); v <= 0 {
					missing = append(missing, client)
				}
			}
			return len(missing) == 0, fmt.Sprintf("worker %d: no kgo_read_bytes_total for %v", i, missing)
		})
	}
}
