// Package file provides Ferry's FileStreamSource and FileStreamSink
// connectors, compatible with Apache Kafka's connect-file module: the same
// class names, configuration keys, source partitions and offsets, so that
// existing configs and offsets topics keep working.
//
// One deliberate difference: the source offset "position" counts bytes, not
// characters, so restarts on non-ASCII files resume exactly after the last
// line that was delivered (Apache counts characters but skips bytes).
package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// Version is the version both file connectors report: the Apache Kafka
// release whose behaviour they follow.
const Version = "4.1.1"

// Class names, as stored configs and task configs refer to them.
const (
	SourceClass     = "org.apache.kafka.connect.file.FileStreamSourceConnector"
	SourceTaskClass = "org.apache.kafka.connect.file.FileStreamSourceTask"
	SinkClass       = "org.apache.kafka.connect.file.FileStreamSinkConnector"
	SinkTaskClass   = "org.apache.kafka.connect.file.FileStreamSinkTask"
)

// Configuration keys and offset fields.
const (
	FileConfig      = "file"
	TopicConfig     = "topic"
	BatchSizeConfig = "batch.size"

	// FilenameField is the key of the source partition map.
	FilenameField = "filename"
	// PositionField is the key of the source offset map: the number of
	// bytes of the file consumed so far.
	PositionField = "position"

	defaultBatchSize = 2000
)

// Tuning. The idle wait is copied into each task, where tests shorten it.
const (
	readBufferSize = 64 << 10
	idleWait       = time.Second
)

// SourcePlugin describes the FileStreamSource connector.
func SourcePlugin() connect.Plugin {
	return connect.Plugin{
		Kind:      connect.KindSource,
		Class:     SourceClass,
		Version:   Version,
		TaskClass: SourceTaskClass,
		Config:    sourceConfigDef,
		New:       func() any { return &SourceConnector{} },
		Doc:       "Reads lines from a file or standard input and publishes each as a string record.",
	}
}

func sourceConfigDef() *connect.ConfigDef {
	return connect.NewConfigDef().
		Define(connect.ConfigKey{Name: FileConfig, Type: connect.TypeString, Default: nil, Importance: connect.High,
			Doc: "Path of the file to read. When empty, lines are read from standard input."}).
		Define(connect.ConfigKey{Name: TopicConfig, Type: connect.TypeString, Default: connect.NoDefault,
			Validator: connect.NonEmptyString(), Importance: connect.High,
			Doc: "Kafka topic that receives one record per line."}).
		Define(connect.ConfigKey{Name: BatchSizeConfig, Type: connect.TypeInt, Default: defaultBatchSize, Importance: connect.Low,
			Doc: "Largest number of lines a task returns from a single poll."})
}

// SourceConnector is the FileStreamSource connector: one task that reads
// the configured file.
type SourceConnector struct {
	config map[string]string
}

var (
	_ connect.SourceConnector = (*SourceConnector)(nil)
	_ connect.OffsetAlterer   = (*SourceConnector)(nil)
)

// Start checks the config and keeps it for the task.
func (c *SourceConnector) Start(_ context.Context, _ connect.ConnectorContext, config map[string]string) error {
	if _, err := sourceConfigDef().Parse(config); err != nil {
		return err
	}
	c.config = maps.Clone(config)
	return nil
}

// TaskConfigs returns exactly one task config, the connector config: a
// single reader per file is the only thing that makes sense.
func (c *SourceConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.config)}, nil
}

// Stop does nothing: the connector watches nothing in the background.
func (c *SourceConnector) Stop() error { return nil }

// NewTask returns a fresh source task.
func (c *SourceConnector) NewTask() connect.SourceTask { return &SourceTask{} }

// AlterOffsets applies Apache's checks: offsets can only be changed when a
// file is configured; every non-null offset needs a non-negative integer
// position and a partition naming a filename. Resets are always allowed.
func (c *SourceConnector) AlterOffsets(config map[string]string, offsets []connect.PartitionOffset) (bool, error) {
	parsed, err := sourceConfigDef().Parse(config)
	if err != nil {
		return false, err
	}
	if parsed.String(FileConfig) == "" {
		return false, fmt.Errorf("Offsets cannot be modified if the '%s' configuration is unspecified. "+
			"This is because stdin is used for input and offsets are not tracked.", FileConfig)
	}
	for _, po := range offsets {
		if po.Offset == nil {
			// A reset is fine whatever the partition looks like, so that
			// junk in the offsets topic can always be cleaned up.
			continue
		}
		v, ok := po.Offset[PositionField]
		if !ok {
			return false, fmt.Errorf("Offset objects should either be null or contain the key '%s'", PositionField)
		}
		n, ok := integer(v)
		if !ok {
			return false, fmt.Errorf("The value for the '%s' key in the offset is expected to be a Long value", PositionField)
		}
		if n < 0 {
			return false, fmt.Errorf("The value for the '%s' key in the offset should be a non-negative value", PositionField)
		}
		if po.Partition == nil {
			return false, errors.New("Partition objects cannot be null")
		}
		if _, ok := po.Partition[FilenameField]; !ok {
			return false, fmt.Errorf("Partition objects should contain the key '%s'", FilenameField)
		}
	}
	return true, nil
}

// integer returns v as an int64 when it is a whole number of an integer
// type (offsets arrive as int64 from JSON; other integer types come from
// code).
func integer(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case int16:
		return int64(n), true
	case int8:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint8:
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// storedPosition reads a position back from an offset store, which may
// have decoded JSON numbers as float64.
func storedPosition(v any) (int64, bool) {
	if f, ok := v.(float64); ok && f == float64(int64(f)) {
		return int64(f), true
	}
	return integer(v)
}

// SourceTask reads lines from a file (or standard input) and turns each
// into a record with a string value.
type SourceTask struct {
	log       *slog.Logger
	filename  string
	topic     string
	batchSize int
	// partition is shared by every record: the runtime only reads it.
	partition map[string]any
	wait      time.Duration

	in      io.ReadCloser // nil until the file could be opened
	lines   *lineReader
	pos     int64 // position to seek to when (re)opening the file
	missing bool  // the missing-file warning was already logged

	// Per-poll scratch space, reused: the bytes of all lines of a batch,
	// where each line ends, and the position after each line.
	data []byte
	ends []int
	offs []int64
}

var _ connect.SourceTask = (*SourceTask)(nil)

// Start parses the config and looks up where the previous run stopped.
func (t *SourceTask) Start(ctx context.Context, tc connect.SourceTaskContext, config map[string]string) error {
	cfg, err := sourceConfigDef().Parse(config)
	if err != nil {
		return err
	}
	t.log = tc.Logger()
	t.filename = cfg.String(FileConfig)
	t.topic = cfg.String(TopicConfig)
	t.batchSize = max(cfg.Int(BatchSizeConfig), 1)
	t.wait = idleWait
	t.in, t.lines, t.pos, t.missing = nil, nil, 0, false
	if t.filename == "" {
		// Apache writes a null filename and position for stdin; offsets
		// are never read back.
		t.partition = map[string]any{FilenameField: nil}
		return nil
	}
	t.partition = map[string]any{FilenameField: t.filename}
	off, err := tc.Offsets().Offset(ctx, t.partition)
	if err != nil {
		return fmt.Errorf("reading the stored offset of %s: %w", t.filename, err)
	}
	if v := off[PositionField]; v != nil {
		n, ok := storedPosition(v)
		if !ok {
			return fmt.Errorf("Offset position is the incorrect type: %T", v)
		}
		t.pos = max(n, 0)
		t.log.Debug("resuming file from stored position", "file", t.filename, "position", t.pos)
	}
	return nil
}

// open opens the input and seeks to the stored position.
func (t *SourceTask) open() error {
	if t.filename == "" {
		in := openStdin()
		t.in, t.lines = in, newLineReader(in, 0, readBufferSize)
		return nil
	}
	f, err := os.Open(t.filename)
	if err != nil {
		return err
	}
	if t.pos > 0 {
		if _, err := f.Seek(t.pos, io.SeekStart); err != nil {
			f.Close()
			return fmt.Errorf("seeking %s to %d: %w", t.filename, t.pos, err)
		}
	}
	t.log.Debug("opened file", "file", t.filename, "position", t.pos)
	t.in, t.lines, t.missing = f, newLineReader(f, t.pos, readBufferSize), false
	return nil
}

// closeInput closes the input; the next Poll reopens it at the position
// after the last line returned.
func (t *SourceTask) closeInput() {
	if t.in == nil {
		return
	}
	t.pos = t.lines.position()
	if err := t.in.Close(); err != nil {
		t.log.Warn("closing input failed", "file", t.filename, "error", err)
	}
	t.in, t.lines = nil, nil
}

// Poll returns up to batch.size complete lines. With nothing new it waits
// about a second (less if ctx ends) and returns nil.
func (t *SourceTask) Poll(ctx context.Context) ([]*connect.SourceRecord, error) {
	if t.in == nil {
		if err := t.open(); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("opening %s for FileStreamSourceTask: %w", t.filename, err)
			}
			if !t.missing {
				t.log.Warn("Couldn't find file for FileStreamSourceTask, sleeping to wait for it to be created", "file", t.filename)
				t.missing = true
			}
			sleep(ctx, t.wait)
			return nil, nil
		}
	}
	t.data, t.ends, t.offs = t.data[:0], t.ends[:0], t.offs[:0]
	for len(t.ends) < t.batchSize {
		if line, pos, ok := t.lines.next(); ok {
			t.data = append(t.data, line...)
			t.ends = append(t.ends, len(t.data))
			t.offs = append(t.offs, pos)
			continue
		}
		n, err := t.lines.fill()
		if n > 0 {
			continue
		}
		if err == nil || errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) {
			break // nothing more available right now
		}
		// Apache gives up on the stream quietly; reopen it next time at the
		// last good position instead.
		t.log.Error("Error while trying to read from file", "file", t.filename, "error", err)
		t.closeInput()
		break
	}
	if len(t.ends) == 0 {
		sleep(ctx, t.wait)
		return nil, nil
	}
	return t.records(), nil
}

// records turns the scratch lines into records. All values share one
// string and all records one allocation: a batch lives and dies together.
func (t *SourceTask) records() []*connect.SourceRecord {
	n := len(t.ends)
	recs := make([]connect.SourceRecord, n)
	out := make([]*connect.SourceRecord, n)
	text := string(t.data)
	now := time.Now()
	begin := 0
	for i, end := range t.ends {
		r := &recs[i]
		r.Topic = t.topic
		r.Partition = -1
		r.ValueSchema = connect.StringSchema
		r.Value = text[begin:end]
		r.Timestamp = now
		r.SourcePartition = t.partition
		if t.filename == "" {
			r.SourceOffset = map[string]any{PositionField: nil}
		} else {
			r.SourceOffset = map[string]any{PositionField: t.offs[i]}
		}
		out[i] = r
		begin = end
	}
	return out
}

// Stop closes the input.
func (t *SourceTask) Stop() error {
	t.closeInput()
	return nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}
