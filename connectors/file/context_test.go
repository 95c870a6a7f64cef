package file

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memOffsets is an in-memory offset store keyed by the JSON of the
// partition, as the real store keys the offsets topic.
type memOffsets map[string]map[string]any

func (o memOffsets) put(partition, offset map[string]any) {
	k, _ := json.Marshal(partition)
	o[string(k)] = offset
}

func (o memOffsets) Offset(_ context.Context, partition map[string]any) (map[string]any, error) {
	k, err := json.Marshal(partition)
	if err != nil {
		return nil, err
	}
	return o[string(k)], nil
}

type taskCtx struct {
	offsets connect.OffsetReader
	logger  *slog.Logger
}

func newTaskCtx(o memOffsets) *taskCtx {
	if o == nil {
		o = memOffsets{}
	}
	return &taskCtx{offsets: o, logger: slog.New(slog.DiscardHandler)}
}

func (c *taskCtx) ConnectorName() string                 { return "test" }
func (c *taskCtx) TaskID() int                           { return 0 }
func (c *taskCtx) Logger() *slog.Logger                  { return c.logger }
func (c *taskCtx) Offsets() connect.OffsetReader         { return c.offsets }
func (c *taskCtx) Assignment() []connect.TopicPartition  { return nil }
func (c *taskCtx) Seek(map[connect.TopicPartition]int64) {}
func (c *taskCtx) Pause(...connect.TopicPartition)       {}
func (c *taskCtx) Resume(...connect.TopicPartition)      {}
func (c *taskCtx) SetRetryTimeout(time.Duration)         {}
func (c *taskCtx) RequestCommit()                        {}

// recordingHandler keeps the messages of logged records.
type recordingHandler struct {
	msgs chan string
}

func (h recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordingHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.msgs <- r.Level.String() + " " + r.Message:
	default:
	}
	return nil
}
func (h recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordingHandler) WithGroup(string) slog.Handler      { return h }
