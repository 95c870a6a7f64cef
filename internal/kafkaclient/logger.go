package kafkaclient

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Logger returns franz-go's logger hook writing to log at WARN and above,
// so connection, TLS and authentication failures reach the worker's log
// with the client's id.
func Logger(log *slog.Logger, client string) kgo.Opt {
	if client != "" {
		log = log.With("client", client)
	}
	return kgo.WithLogger(&kgoLogger{log: log})
}

type kgoLogger struct{ log *slog.Logger }

func (l *kgoLogger) Level() kgo.LogLevel {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelDebug
	}
	// franz-go's INFO lines (every metadata refresh, group step) are
	// Apache's DEBUG ones; keep the worker's INFO log readable.
	return kgo.LogLevelWarn
}

func (l *kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	var lv slog.Level
	switch level {
	case kgo.LogLevelError:
		lv = slog.LevelError
	case kgo.LogLevelWarn:
		lv = slog.LevelWarn
	case kgo.LogLevelInfo:
		lv = slog.LevelInfo
	default:
		lv = slog.LevelDebug
	}
	l.log.Log(context.Background(), lv, msg, keyvals...)
}
