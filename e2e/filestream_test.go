package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
)

// Apache's own quickstart files, unchanged (§9.3 of the contract).
const (
	apacheFileSource = `name=local-file-source
connector.class=FileStreamSource
tasks.max=1
file=test.txt
topic=connect-test
`
	apacheFileSink = `name=local-file-sink
connector.class=FileStreamSink
tasks.max=1
file=test.sink.txt
topics=connect-test
`
)

// TestApacheQuickstartFiles runs Apache's quickstart connector files on
// `ferry standalone` and checks the sink file and the topic's bytes.
func TestApacheQuickstartFiles(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	dir := t.TempDir()
	port := testbed.FreePort(t)
	writeFile(t, filepath.Join(dir, "connect-standalone.properties"), fmt.Sprintf(`bootstrap.servers=%s
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
offset.storage.file.filename=%s
offset.flush.interval.ms=10000
listeners=http://127.0.0.1:%d
`, bootstrap, filepath.Join(dir, "connect.offsets"), port))
	writeFile(t, filepath.Join(dir, "connect-file-source.properties"), apacheFileSource)
	writeFile(t, filepath.Join(dir, "connect-file-sink.properties"), apacheFileSink)
	lines := []string{"foo", "bar", "héllo wörld", `with "quotes" and \ backslash`, ""}
	writeFile(t, filepath.Join(dir, "test.txt"), strings.Join(lines, "\n")+"\n")

	// The topic name is Apache's, so earlier runs on the same broker may
	// have left records: read only what this run writes.
	startOffset := endOffset(t, bootstrap, "connect-test")
	startFerry(t, dir, "standalone", "connect-standalone.properties", "connect-file-source.properties", "connect-file-sink.properties")
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(t, url)
	w := &worker{url: url}
	w.waitState(t, "local-file-source", "RUNNING", 1)
	w.waitState(t, "local-file-sink", "RUNNING", 1)
	sinkPath := filepath.Join(dir, "test.sink.txt")
	testbed.WaitFor(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
		b, _ := os.ReadFile(sinkPath)
		return string(b) == strings.Join(lines, "\n")+"\n", string(b)
	})

	if !testbed.IsRealKafka() {
		return // kcat talks to the real broker only
	}
	kcat := testbed.Kcat(t)
	out, err := exec.Command(kcat, "-C", "-b", bootstrap, "-t", "connect-test", "-p", "0", "-o", fmt.Sprint(startOffset), "-e", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	want := []string{
		`{"schema":{"type":"string","optional":false},"payload":"foo"}`,
		`{"schema":{"type":"string","optional":false},"payload":"bar"}`,
		`{"schema":{"type":"string","optional":false},"payload":"héllo wörld"}`,
		`{"schema":{"type":"string","optional":false},"payload":"with \"quotes\" and \\ backslash"}`,
		`{"schema":{"type":"string","optional":false},"payload":""}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("kcat read:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// endOffset returns the end offset of partition 0 of topic, 0 if absent.
func endOffset(t *testing.T, bootstrap, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := testbed.Admin(t, bootstrap).ListEndOffsets(ctx, topic)
	if err != nil {
		return 0
	}
	if o, ok := ends.Lookup(topic, 0); ok && o.Err == nil {
		return o.Offset
	}
	return 0
}

// TestKillNineFileStream kills the worker with SIGKILL in the middle of a
// 100,000-line FileStream pipeline; after a restart the sink file holds
// every line, in order, with duplicates only from replays after the last
// offset flush.
func TestKillNineFileStream(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	dir := t.TempDir()
	port := testbed.FreePort(t)
	topic := testbed.UniqueName(t, "kill9")
	const total = 100000
	var b strings.Builder
	for i := range total {
		fmt.Fprintf(&b, "line-%06d\n", i)
	}
	writeFile(t, filepath.Join(dir, "in.txt"), b.String())
	writeFile(t, filepath.Join(dir, "worker.properties"), fmt.Sprintf(`bootstrap.servers=%s
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.storage.StringConverter
offset.storage.file.filename=%s
offset.flush.interval.ms=200
listeners=http://127.0.0.1:%d
# The killed worker's sink stays in its consumer group until its session
# times out; keep that short so the restarted sink gets the partitions soon.
consumer.session.timeout.ms=6000
consumer.heartbeat.interval.ms=1000
`, bootstrap, filepath.Join(dir, "connect.offsets"), port))
	writeFile(t, filepath.Join(dir, "source.properties"), fmt.Sprintf("name=src\nconnector.class=FileStreamSource\nfile=in.txt\ntopic=%s\nbatch.size=500\n", topic))
	writeFile(t, filepath.Join(dir, "sink.properties"), fmt.Sprintf("name=%s\nconnector.class=FileStreamSink\nfile=out.txt\ntopics=%s\n", topic+"-sink", topic))
	args := []string{"standalone", "worker.properties", "source.properties", "sink.properties"}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	out := filepath.Join(dir, "out.txt")

	p := startFerry(t, dir, args...)
	waitHTTP(t, url)
	// Kill once the pipeline is well under way but not finished.
	testbed.WaitFor(t, 120*time.Second, 5*time.Millisecond, func() (bool, string) {
		n := countLines(out)
		return n >= 5000, fmt.Sprint(n, " lines")
	})
	p.kill()
	killedAt := countLines(out)
	t.Logf("killed with %d lines in the sink file", killedAt)

	startFerry(t, dir, args...)
	waitHTTP(t, url)
	testbed.WaitFor(t, 180*time.Second, 100*time.Millisecond, func() (bool, string) {
		got := readLines(t, out)
		if len(got) == 0 {
			return false, "empty"
		}
		return got[len(got)-1] == fmt.Sprintf("line-%06d", total-1), got[len(got)-1]
	})
	got := readLines(t, out)
	// Every line is present, and the file is the input with at most
	// contiguous replays (at-least-once): each line's first occurrence
	// follows the previous line's.
	seen := make(map[string]bool, total)
	next := 0
	for _, l := range got {
		if l == fmt.Sprintf("line-%06d", next) {
			seen[l] = true
			next++
			continue
		}
		if !seen[l] {
			t.Fatalf("line %q out of order (expected line-%06d next)", l, next)
		}
	}
	if next != total {
		t.Fatalf("only %d of %d lines arrived", next, total)
	}
	t.Logf("%d lines written, %d duplicates", len(got), len(got)-total)
}
