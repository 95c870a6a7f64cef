package logging

import (
	"context"
	"log/slog"
)

// Handler wraps a slog.Handler and drops records below the level of the
// logger they belong to. The logger is named by a top-level LoggerKey
// attribute added with WithAttrs (slog.Logger.With); records of a handler
// with no such attribute use the root level. The base handler's own level
// is not consulted: Handler decides alone which records pass.
type Handler struct {
	base    slog.Handler
	levels  *Levels
	logger  *entry
	grouped bool // attributes added now land inside a group
	// unnamed is this handler as it was before a logger name was added, so
	// that Levels.Logger can rename without stacking two logger attributes.
	unnamed *Handler
}

// NewHandler returns a Handler that filters records for base by levels.
func NewHandler(base slog.Handler, levels *Levels) *Handler {
	return &Handler{base: base, levels: levels, logger: levels.root}
}

// Enabled reports whether level reaches the logger's effective level.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	return int64(level) >= h.logger.effective.Load()
}

// Handle passes r to the base handler if its level is enabled, with
// credentials inside URLs hidden.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if !h.Enabled(ctx, r.Level) {
		return nil
	}
	return h.base.Handle(ctx, redact(r))
}

// WithAttrs returns a Handler with attrs added; a top-level LoggerKey
// string attribute switches the handler to that logger's level.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.base = h.base.WithAttrs(attrs)
	if !h.grouped {
		for _, a := range attrs {
			if a.Key == LoggerKey && a.Value.Kind() == slog.KindString {
				c.logger = h.levels.entry(a.Value.String())
				if c.unnamed == nil {
					c.unnamed = h
				}
			}
		}
	}
	return &c
}

// WithGroup returns a Handler whose later attributes go into group name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.base = h.base.WithGroup(name)
	c.grouped = true
	return &c
}
