package file

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// chunkReader returns its chunks one per Read, then io.EOF.
type chunkReader struct{ chunks []string }

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	if c.chunks[0] == "" {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

type lineAt struct {
	line string
	pos  int64
}

// readAll drains lr the way Poll does, returning every complete line.
func readAll(t *testing.T, lr *lineReader) []lineAt {
	t.Helper()
	var out []lineAt
	for {
		if line, pos, ok := lr.next(); ok {
			out = append(out, lineAt{string(line), pos})
			continue
		}
		n, err := lr.fill()
		if n > 0 {
			continue
		}
		if err == nil || err == io.EOF {
			return out
		}
		t.Fatalf("read: %v", err)
	}
}

func TestLineSplitting(t *testing.T) {
	cases := []struct {
		name   string
		chunks []string
		want   []lineAt
	}{
		{"lf", []string{"a\nbc\n"}, []lineAt{{"a", 2}, {"bc", 5}}},
		{"crlf", []string{"a\r\nbc\r\n"}, []lineAt{{"a", 3}, {"bc", 7}}},
		{"lone cr", []string{"a\rbc\rd\n"}, []lineAt{{"a", 2}, {"bc", 5}, {"d", 7}}},
		{"trailing cr waits", []string{"a\rb\r"}, []lineAt{{"a", 2}}},
		{"cr then lf in next read", []string{"a\r", "\nb\n"}, []lineAt{{"a", 3}, {"b", 5}}},
		{"cr then text in next read", []string{"a\r", "b\n"}, []lineAt{{"a", 2}, {"b", 4}}},
		{"unterminated last line", []string{"x\ny"}, []lineAt{{"x", 2}}},
		{"line split over reads", []string{"he", "llo", "\nw", "orld\n"}, []lineAt{{"hello", 6}, {"world", 12}}},
		{"empty lines", []string{"\n\n\r\n\r\r\n"}, []lineAt{{"", 1}, {"", 2}, {"", 4}, {"", 5}, {"", 7}}},
		{"mixed", []string{"a\nb\r\nc\rd"}, []lineAt{{"a", 2}, {"b", 5}, {"c", 7}}},
		{"utf-8", []string{"héllo\n日本語\r\nñ\r"}, []lineAt{{"héllo", 7}, {"日本語", 18}}},
		{"nothing", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, size := range []int{1, 3, 64} {
				lr := newLineReader(&chunkReader{chunks: slices.Clone(tc.chunks)}, 0, size)
				if got := readAll(t, lr); !slices.Equal(got, tc.want) {
					t.Errorf("buffer %d: got %v, want %v", size, got, tc.want)
				}
				lr = newLineReader(iotest.OneByteReader(strings.NewReader(strings.Join(tc.chunks, ""))), 0, size)
				if got := readAll(t, lr); !slices.Equal(got, tc.want) {
					t.Errorf("byte by byte, buffer %d: got %v, want %v", size, got, tc.want)
				}
			}
		})
	}
}

func TestLineReaderLongLine(t *testing.T) {
	long := strings.Repeat("x", 10_000)
	lr := newLineReader(strings.NewReader("a\n"+long+"\nb\n"), 100, 16)
	got := readAll(t, lr)
	want := []lineAt{{"a", 102}, {long, 102 + 10_001}, {"b", 102 + 10_003}}
	if !slices.Equal(got, want) {
		t.Fatalf("long line not split right: %d lines", len(got))
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
}

func startSource(t *testing.T, config map[string]string, offsets memOffsets) *SourceTask {
	t.Helper()
	task := &SourceTask{}
	if err := task.Start(t.Context(), newTaskCtx(offsets), config); err != nil {
		t.Fatalf("start: %v", err)
	}
	task.wait = time.Millisecond
	t.Cleanup(func() { task.Stop() })
	return task
}

// pollAll polls until a poll returns nothing.
func pollAll(t *testing.T, task *SourceTask) []*connect.SourceRecord {
	t.Helper()
	var out []*connect.SourceRecord
	for {
		recs, err := task.Poll(t.Context())
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		if len(recs) == 0 {
			return out
		}
		out = append(out, recs...)
	}
}

func values(recs []*connect.SourceRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Value.(string)
	}
	return out
}

func TestSourceRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	writeFile(t, path, "first\r\nsecond\n")
	task := startSource(t, map[string]string{"file": path, "topic": "lines", "name": "ignored"}, nil)
	recs := pollAll(t, task)
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2", len(recs))
	}
	r := recs[1]
	if r.Topic != "lines" || r.Partition != -1 || r.Key != nil || r.KeySchema != nil {
		t.Errorf("unexpected coordinates/key: %+v", r.Record)
	}
	if r.ValueSchema != connect.StringSchema || r.Value != "second" {
		t.Errorf("value = %v (%v), want second (string)", r.Value, r.ValueSchema)
	}
	if r.Timestamp.IsZero() {
		t.Error("timestamp not set")
	}
	if got := r.SourcePartition; len(got) != 1 || got["filename"] != path {
		t.Errorf("partition = %v", got)
	}
	if got := recs[0].SourceOffset["position"]; got != int64(7) {
		t.Errorf("first offset = %#v, want int64(7)", got)
	}
	if got := r.SourceOffset["position"]; got != int64(14) {
		t.Errorf("second offset = %#v, want int64(14)", got)
	}
}

func TestSourceTailsAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	writeFile(t, path, "one\ntw")
	task := startSource(t, map[string]string{"file": path, "topic": "t"}, nil)
	if got := values(pollAll(t, task)); !slices.Equal(got, []string{"one"}) {
		t.Fatalf("got %q", got)
	}
	appendFile(t, path, "o\r")
	if got := values(pollAll(t, task)); len(got) != 0 {
		t.Fatalf("line ending in a lone trailing \\r must wait, got %q", got)
	}
	appendFile(t, path, "\nthree\n")
	recs := pollAll(t, task)
	if got := values(recs); !slices.Equal(got, []string{"two", "three"}) {
		t.Fatalf("got %q", got)
	}
	if got := recs[1].SourceOffset["position"]; got != int64(15) {
		t.Errorf("offset = %v, want 15", got)
	}
}

func TestSourceRestartNonASCII(t *testing.T) {
	lines := []string{"grüße", "日本語のテキスト", "emoji 🚀 here", "ascii", "ñandú", "last"}
	path := filepath.Join(t.TempDir(), "in.txt")
	writeFile(t, path, strings.Join(lines, "\n")+"\n")
	config := map[string]string{"file": path, "topic": "t", "batch.size": "3"}

	first := startSource(t, config, nil)
	recs, err := first.Poll(t.Context())
	if err != nil || len(recs) != 3 {
		t.Fatalf("first poll: %d records, %v", len(recs), err)
	}
	first.Stop()

	last := recs[len(recs)-1]
	for _, stored := range []any{last.SourceOffset["position"], float64(last.SourceOffset["position"].(int64))} {
		offsets := memOffsets{}
		offsets.put(last.SourcePartition, map[string]any{"position": stored})
		second := startSource(t, config, offsets)
		if got := values(pollAll(t, second)); !slices.Equal(got, lines[3:]) {
			t.Errorf("restart from %T %v: got %q, want %q", stored, stored, got, lines[3:])
		}
		second.Stop()
	}
}

func TestSourceBadStoredOffset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	offsets := memOffsets{}
	offsets.put(map[string]any{"filename": path}, map[string]any{"position": "12"})
	err := (&SourceTask{}).Start(t.Context(), newTaskCtx(offsets), map[string]string{"file": path, "topic": "t"})
	if err == nil || !strings.Contains(err.Error(), "Offset position is the incorrect type") {
		t.Fatalf("got %v", err)
	}
}

func TestSourceBatchSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	var b strings.Builder
	for i := range 10 {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	writeFile(t, path, b.String())
	task := startSource(t, map[string]string{"file": path, "topic": "t", "batch.size": "3"}, nil)
	var sizes []int
	var all []string
	for {
		recs, err := task.Poll(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		sizes = append(sizes, len(recs))
		all = append(all, values(recs)...)
	}
	if !slices.Equal(sizes, []int{3, 3, 3, 1}) {
		t.Errorf("batch sizes = %v, want [3 3 3 1]", sizes)
	}
	if len(all) != 10 || all[9] != "line 9" {
		t.Errorf("values = %q", all)
	}
}

func TestSourceMissingFileThenCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.txt")
	logs := make(chan string, 16)
	tc := newTaskCtx(nil)
	tc.logger = slog.New(recordingHandler{msgs: logs})
	task := &SourceTask{}
	if err := task.Start(t.Context(), tc, map[string]string{"file": path, "topic": "t"}); err != nil {
		t.Fatal(err)
	}
	defer task.Stop()
	task.wait = time.Millisecond
	for range 3 {
		recs, err := task.Poll(t.Context())
		if err != nil || recs != nil {
			t.Fatalf("poll of a missing file = %v, %v; want nil, nil", recs, err)
		}
	}
	if msg := <-logs; !strings.HasPrefix(msg, "WARN Couldn't find file") {
		t.Errorf("log = %q", msg)
	}
	if len(logs) != 0 {
		t.Errorf("the warning should be logged once, also got %q", <-logs)
	}
	writeFile(t, path, "hello\n")
	if got := values(pollAll(t, task)); !slices.Equal(got, []string{"hello"}) {
		t.Fatalf("got %q", got)
	}
}

func TestSourcePollHonoursCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	writeFile(t, path, "")
	for _, file := range []string{path, filepath.Join(t.TempDir(), "missing")} {
		task := startSource(t, map[string]string{"file": file, "topic": "t"}, nil)
		task.wait = time.Hour // only cancellation can end the wait
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			recs, err := task.Poll(ctx)
			if recs != nil || err != nil {
				t.Errorf("poll = %v, %v", recs, err)
			}
		}()
		cancel()
		<-done
	}
}

func TestSourceAlterOffsets(t *testing.T) {
	c := &SourceConnector{}
	withFile := map[string]string{"file": "/tmp/in.txt", "topic": "t"}
	part := map[string]any{"filename": "/tmp/in.txt"}
	cases := []struct {
		name    string
		config  map[string]string
		offsets []connect.PartitionOffset
		wantErr string
	}{
		{"stdin", map[string]string{"topic": "t"}, nil, "Offsets cannot be modified if the 'file' configuration is unspecified"},
		{"valid", withFile, []connect.PartitionOffset{{Partition: part, Offset: map[string]any{"position": int64(10)}}}, ""},
		{"zero", withFile, []connect.PartitionOffset{{Partition: part, Offset: map[string]any{"position": int64(0)}}}, ""},
		{"reset of junk", withFile, []connect.PartitionOffset{{Partition: map[string]any{"x": 1}, Offset: nil}}, ""},
		{"no position", withFile, []connect.PartitionOffset{{Partition: part, Offset: map[string]any{"pos": int64(1)}}},
			"Offset objects should either be null or contain the key 'position'"},
		{"string position", withFile, []connect.PartitionOffset{{Partition: part, Offset: map[string]any{"position": "1"}}},
			"The value for the 'position' key in the offset is expected to be a Long value"},
		{"float position", withFile, []connect.PartitionOffset{{Partition: part, Offset: map[string]any{"position": 1.5}}},
			"expected to be a Long value"},
		{"negative", withFile, []connect.PartitionOffset{{Partition: part, Offset: map[string]any{"position": int64(-1)}}},
			"The value for the 'position' key in the offset should be a non-negative value"},
		{"null partition", withFile, []connect.PartitionOffset{{Offset: map[string]any{"position": int64(1)}}},
			"Partition objects cannot be null"},
		{"no filename", withFile, []connect.PartitionOffset{{Partition: map[string]any{"file": "x"}, Offset: map[string]any{"position": int64(1)}}},
			"Partition objects should contain the key 'filename'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := c.AlterOffsets(tc.config, tc.offsets)
			if tc.wantErr == "" {
				if !ok || err != nil {
					t.Fatalf("got %v, %v; want true, nil", ok, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestSourceConnector(t *testing.T) {
	c := SourcePlugin().New().(*SourceConnector)
	if err := c.Start(t.Context(), nil, map[string]string{"file": "x"}); err == nil {
		t.Error("start without topic should fail")
	}
	if err := c.Start(t.Context(), nil, map[string]string{"file": "x", "topic": ""}); err == nil {
		t.Error("start with an empty topic should fail")
	}
	config := map[string]string{"file": "x", "topic": "t", "tasks.max": "4"}
	if err := c.Start(t.Context(), nil, config); err != nil {
		t.Fatal(err)
	}
	tasks, err := c.TaskConfigs(4)
	if err != nil || len(tasks) != 1 || tasks[0]["file"] != "x" || tasks[0]["topic"] != "t" {
		t.Fatalf("task configs = %v, %v", tasks, err)
	}
	def := SourcePlugin().ConfigDefOf()
	if k, _ := def.Key("batch.size"); k.Default != 2000 || k.Type != connect.TypeInt {
		t.Errorf("batch.size = %+v", k)
	}
	if k, _ := def.Key("file"); k.Default != nil || k.Type != connect.TypeString || k.Required() {
		t.Errorf("file = %+v", k)
	}
	if k, _ := def.Key("topic"); !k.Required() {
		t.Errorf("topic must be required")
	}
}

func TestPluginAliases(t *testing.T) {
	reg, err := connect.NewRegistry(SourcePlugin(), SinkPlugin())
	if err != nil {
		t.Fatal(err)
	}
	for name, class := range map[string]string{
		"FileStreamSource": SourceClass, "FileStreamSourceConnector": SourceClass, SourceClass: SourceClass,
		"FileStreamSink": SinkClass, "FileStreamSinkConnector": SinkClass,
	} {
		p, ok := reg.LookupConnector(name)
		if !ok || p.Class != class {
			t.Errorf("%s resolved to %q, %v", name, p.Class, ok)
		}
	}
}
