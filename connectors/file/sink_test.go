package file

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/connect"
)

func sinkRecords(values ...any) []*connect.SinkRecord {
	out := make([]*connect.SinkRecord, len(values))
	for i, v := range values {
		out[i] = &connect.SinkRecord{Record: connect.Record{Topic: "t", Value: v}, KafkaOffset: int64(i)}
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSinkWritesFlushesAndAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	config := map[string]string{"file": path, "topics": "t"}
	st := connect.StructBuilder().Field("a", connect.Int32Schema).MustBuild()

	task := &SinkTask{}
	if err := task.Start(t.Context(), newTaskCtx(nil), config); err != nil {
		t.Fatal(err)
	}
	recs := sinkRecords("héllo", nil, int32(42), 1.5, connect.NewStruct(st).MustPut("a", int32(7)), map[string]any{"k": "v"})
	if err := task.Put(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	if err := task.Flush(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	want := "héllo\nnull\n42\n1.5\nStruct{a=7}\n{k=v}\n"
	if got := readFile(t, path); got != want {
		t.Errorf("after flush: %q, want %q", got, want)
	}
	if err := task.Put(t.Context(), sinkRecords("buffered")); err != nil {
		t.Fatal(err)
	}
	if err := task.Stop(); err != nil {
		t.Fatal(err)
	}
	want += "buffered\n"
	if got := readFile(t, path); got != want {
		t.Errorf("after stop: %q, want %q", got, want)
	}

	// A new task appends to what is there.
	again := &SinkTask{}
	if err := again.Start(t.Context(), newTaskCtx(nil), config); err != nil {
		t.Fatal(err)
	}
	if err := again.Put(t.Context(), sinkRecords("more")); err != nil {
		t.Fatal(err)
	}
	if err := again.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != want+"more\n" {
		t.Errorf("after reopen: %q", got)
	}
}

func TestSinkCannotCreateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "out.txt")
	err := (&SinkTask{}).Start(t.Context(), newTaskCtx(nil), map[string]string{"file": path})
	want := "Couldn't find or create file '" + path + "' for FileStreamSinkTask"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestSinkConnector(t *testing.T) {
	c := SinkPlugin().New().(*SinkConnector)
	config := map[string]string{"file": "out.txt", "topics": "t", "tasks.max": "3"}
	if err := c.Start(t.Context(), nil, config); err != nil {
		t.Fatal(err)
	}
	tasks, err := c.TaskConfigs(3)
	if err != nil || len(tasks) != 3 {
		t.Fatalf("task configs = %v, %v", tasks, err)
	}
	for _, tc := range tasks {
		if tc["file"] != "out.txt" || tc["topics"] != "t" {
			t.Errorf("task config = %v", tc)
		}
	}
	if ok, err := c.AlterOffsets(config, []connect.PartitionOffset{{Partition: map[string]any{"kafka_topic": "t"}}}); !ok || err != nil {
		t.Errorf("alter offsets = %v, %v", ok, err)
	}
}
