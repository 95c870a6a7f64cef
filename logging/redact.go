package logging

import (
	"log/slog"

	"github.com/ferryhq/ferry/internal/secrets"
)

// redact hides credentials inside URLs (user:password@host, ?password=)
// in a record's message and in its string and error attributes: driver
// and client errors often quote the URL they failed to reach.
func redact(r slog.Record) slog.Record {
	msg := secrets.RedactURLs(r.Message)
	changed := msg != r.Message
	attrs := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		b, ok := redactAttr(a)
		changed = changed || ok
		attrs = append(attrs, b)
		return true
	})
	if !changed {
		return r
	}
	out := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	out.AddAttrs(attrs...)
	return out
}

// redactAttr returns a with URL credentials hidden, and whether it changed.
func redactAttr(a slog.Attr) (slog.Attr, bool) {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := secrets.RedactURLs(v.String()); s != v.String() {
			return slog.String(a.Key, s), true
		}
	case slog.KindAny:
		if err, ok := v.Any().(error); ok && err != nil {
			if s := secrets.RedactURLs(err.Error()); s != err.Error() {
				return slog.String(a.Key, s), true
			}
		}
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, 0, len(g))
		changed := false
		for _, x := range g {
			y, ok := redactAttr(x)
			changed = changed || ok
			out = append(out, y)
		}
		if changed {
			return slog.Group(a.Key, out...), true
		}
	}
	return a, false
}
