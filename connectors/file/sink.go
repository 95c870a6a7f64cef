package file

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"

	"github.com/ferryhq/ferry/connect"
)

const writeBufferSize = 64 << 10

// SinkPlugin describes the FileStreamSink connector.
func SinkPlugin() connect.Plugin {
	return connect.Plugin{
		Kind:      connect.KindSink,
		Class:     SinkClass,
		Version:   Version,
		TaskClass: SinkTaskClass,
		Config:    sinkConfigDef,
		New:       func() any { return &SinkConnector{} },
		Doc:       "Appends the value of each consumed record as a line to a file or standard output.",
	}
}

func sinkConfigDef() *connect.ConfigDef {
	return connect.NewConfigDef().
		Define(connect.ConfigKey{Name: FileConfig, Type: connect.TypeString, Default: nil, Importance: connect.High,
			Doc: "Path of the file records are appended to. When empty, they are written to standard output."})
}

// SinkConnector is the FileStreamSink connector: every task appends to the
// same file.
type SinkConnector struct {
	config map[string]string
}

var (
	_ connect.SinkConnector = (*SinkConnector)(nil)
	_ connect.OffsetAlterer = (*SinkConnector)(nil)
)

// Start checks the config and keeps it for the tasks.
func (c *SinkConnector) Start(_ context.Context, _ connect.ConnectorContext, config map[string]string) error {
	if _, err := sinkConfigDef().Parse(config); err != nil {
		return err
	}
	c.config = maps.Clone(config)
	return nil
}

// TaskConfigs returns maxTasks identical configs.
func (c *SinkConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	return connect.CopiesForTasks(c.config, maxTasks), nil
}

// Stop does nothing.
func (c *SinkConnector) Stop() error { return nil }

// NewTask returns a fresh sink task.
func (c *SinkConnector) NewTask() connect.SinkTask { return &SinkTask{} }

// AlterOffsets accepts any change: the sink keeps no offsets of its own,
// only the consumer group's.
func (c *SinkConnector) AlterOffsets(map[string]string, []connect.PartitionOffset) (bool, error) {
	return true, nil
}

// SinkTask appends one line per record: the value rendered as Java's
// String.valueOf would, "null" for a null value.
type SinkTask struct {
	log      *slog.Logger
	filename string
	f        *os.File // nil when writing to standard output
	w        *bufio.Writer
}

var (
	_ connect.SinkTask = (*SinkTask)(nil)
	_ connect.Flusher  = (*SinkTask)(nil)
)

// Start opens the file for appending, creating it if needed.
func (t *SinkTask) Start(_ context.Context, tc connect.SinkTaskContext, config map[string]string) error {
	cfg, err := sinkConfigDef().Parse(config)
	if err != nil {
		return err
	}
	t.log = tc.Logger()
	t.filename = cfg.String(FileConfig)
	var out io.Writer = os.Stdout
	if t.filename != "" {
		f, err := os.OpenFile(t.filename, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("Couldn't find or create file '%s' for FileStreamSinkTask: %w", t.filename, err)
		}
		t.f, out = f, f
	}
	t.w = bufio.NewWriterSize(out, writeBufferSize)
	return nil
}

// Put buffers one line per record.
func (t *SinkTask) Put(_ context.Context, records []*connect.SinkRecord) error {
	for _, r := range records {
		s, ok := r.Value.(string)
		if !ok {
			s = connect.FormatValue(r.Value)
		}
		var err error
		// Flush before a line that does not fit, so the file only ever
		// receives whole lines: a crash cannot leave half a line behind.
		if len(s)+1 > t.w.Available() && t.w.Buffered() > 0 {
			err = t.w.Flush()
		}
		if err == nil {
			_, err = t.w.WriteString(s)
		}
		if err == nil {
			err = t.w.WriteByte('\n')
		}
		if err != nil {
			return fmt.Errorf("writing to %s: %w", t.destination(), err)
		}
	}
	// Hand the batch to the OS now, as Apache's sink does per record, so
	// readers of the file see records without waiting for the next offset
	// flush; Flush still fsyncs before offsets are committed.
	if err := t.w.Flush(); err != nil {
		return fmt.Errorf("writing to %s: %w", t.destination(), err)
	}
	return nil
}

// Flush writes out the buffer and syncs the file, so that committed
// consumer offsets never run ahead of what is on disk.
func (t *SinkTask) Flush(context.Context, map[connect.TopicPartition]int64) error {
	if err := t.w.Flush(); err != nil {
		return fmt.Errorf("flushing %s: %w", t.destination(), err)
	}
	if t.f != nil {
		if err := t.f.Sync(); err != nil {
			return fmt.Errorf("syncing %s: %w", t.filename, err)
		}
	}
	return nil
}

// Stop flushes what is buffered and closes the file.
func (t *SinkTask) Stop() error {
	if t.w == nil {
		return nil
	}
	err := t.w.Flush()
	if err != nil {
		err = fmt.Errorf("flushing %s: %w", t.destination(), err)
	}
	if t.f != nil {
		if cerr := t.f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing %s: %w", t.filename, cerr)
		}
		t.f = nil
	}
	t.w = nil
	return err
}

func (t *SinkTask) destination() string {
	if t.filename == "" {
		return "standard output"
	}
	return t.filename
}
