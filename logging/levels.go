package logging

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RootLogger is the name of the root logger. Lookups match it ignoring case.
const RootLogger = "root"

// LoggerKey is the attribute that names the logger a record comes from.
const LoggerKey = "logger"

// LoggerLevel is the level of one logger as the REST API reports it.
type LoggerLevel struct {
	// Level is the logger's effective level.
	Level Level
	// LastModified is when the level was last changed through SetLevel;
	// zero if it never was.
	LastModified time.Time
}

// Levels is a registry of named loggers and their levels. A logger either
// has a level of its own or inherits the level of the longest name that is
// a prefix of its name and has a level (prefixes are plain string prefixes,
// not dot-aware, as Connect's namespaces are), else the root level.
//
// Levels is safe for concurrent use. Handlers read a logger's effective
// level with one atomic load; changes recompute every logger's level.
type Levels struct {
	now func() time.Time

	mu      sync.Mutex
	root    *entry
	loggers map[string]*entry
}

type entry struct {
	name         string
	own          *Level // nil: inherited
	lastModified time.Time
	effective    atomic.Int64
}

func (e *entry) level() Level { return Level(e.effective.Load()) }

// LevelsOpt configures NewLevels.
type LevelsOpt interface{ apply(*Levels) }

type levelsOpt func(*Levels)

func (o levelsOpt) apply(l *Levels) { o(l) }

// WithClock sets the clock that stamps LastModified (default time.Now).
func WithClock(now func() time.Time) LevelsOpt {
	return levelsOpt(func(l *Levels) { l.now = now })
}

// NewLevels returns a registry whose root logger is at root.
func NewLevels(root Level, opts ...LevelsOpt) *Levels {
	l := &Levels{
		now:     time.Now,
		root:    &entry{name: RootLogger, own: &root},
		loggers: make(map[string]*entry),
	}
	l.root.effective.Store(int64(root))
	for _, o := range opts {
		o.apply(l)
	}
	return l
}

func isRoot(name string) bool { return name == "" || strings.EqualFold(name, RootLogger) }

// entryLocked returns the entry of name, creating it with an inherited
// level when it does not exist yet. l.mu must be held.
func (l *Levels) entryLocked(name string) *entry {
	if isRoot(name) {
		return l.root
	}
	e, ok := l.loggers[name]
	if !ok {
		e = &entry{name: name}
		e.effective.Store(int64(l.inheritedLocked(name)))
		l.loggers[name] = e
	}
	return e
}

func (l *Levels) entry(name string) *entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.entryLocked(name)
}

// inheritedLocked is the level name gets when it has none of its own.
func (l *Levels) inheritedLocked(name string) Level {
	best, lvl := -1, *l.root.own
	for n, e := range l.loggers {
		if e.own != nil && n != name && len(n) > best && strings.HasPrefix(name, n) {
			best, lvl = len(n), *e.own
		}
	}
	return lvl
}

func (l *Levels) recomputeLocked() {
	l.root.effective.Store(int64(*l.root.own))
	for n, e := range l.loggers {
		if e.own != nil {
			e.effective.Store(int64(*e.own))
		} else {
			e.effective.Store(int64(l.inheritedLocked(n)))
		}
	}
}

// Register makes a logger known (so the REST API can find it) without
// giving it a level of its own.
func (l *Levels) Register(name string) { l.entry(name) }

// Configure gives a logger a level of its own, as a logging configuration
// file does at startup: LastModified is left untouched.
func (l *Levels) Configure(name string, level Level) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lv := level
	l.entryLocked(name).own = &lv
	l.recomputeLocked()
}

// SetLevel sets namespace and every known logger whose name starts with it
// to level, creating the namespace logger if needed; the root namespace
// covers every logger. It returns the sorted names of the affected loggers
// ("root" for the root logger). Loggers already at that level are listed
// but keep their LastModified.
func (l *Levels) SetLevel(namespace string, level Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var affected []*entry
	if isRoot(namespace) {
		affected = append(affected, l.root)
		for _, e := range l.loggers {
			affected = append(affected, e)
		}
	} else {
		l.entryLocked(namespace)
		for n, e := range l.loggers {
			if strings.HasPrefix(n, namespace) {
				affected = append(affected, e)
			}
		}
	}
	// Compare with the levels before this change, so the outcome does not
	// depend on the order in which loggers are visited.
	before := make([]Level, len(affected))
	for i, e := range affected {
		before[i] = e.level()
	}
	now := l.now()
	names := make([]string, 0, len(affected))
	for i, e := range affected {
		names = append(names, e.name)
		if before[i] == level && e.own != nil {
			continue
		}
		lv := level
		e.own = &lv
		if before[i] != level {
			e.lastModified = now
		}
	}
	l.recomputeLocked()
	slices.Sort(names)
	return names
}

// Get returns the effective level of a known logger ("root" ignoring case
// is the root logger); ok is false for names never registered or set.
func (l *Levels) Get(name string) (lvl LoggerLevel, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.root
	if !isRoot(name) {
		if e, ok = l.loggers[name]; !ok {
			return LoggerLevel{}, false
		}
	}
	return LoggerLevel{Level: e.level(), LastModified: e.lastModified}, true
}

// All returns the root logger and every logger with a level of its own,
// keyed by name.
func (l *Levels) All() map[string]LoggerLevel {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]LoggerLevel{RootLogger: {Level: l.root.level(), LastModified: l.root.lastModified}}
	for n, e := range l.loggers {
		if e.own != nil {
			out[n] = LoggerLevel{Level: *e.own, LastModified: e.lastModified}
		}
	}
	return out
}

// Effective returns the level records of the named logger must reach; it
// does not register the name.
func (l *Levels) Effective(name string) Level {
	l.mu.Lock()
	defer l.mu.Unlock()
	if isRoot(name) {
		return l.root.level()
	}
	if e, ok := l.loggers[name]; ok {
		return e.level()
	}
	return l.inheritedLocked(name)
}

// Logger registers name and returns a logger writing through base whose
// records carry LoggerKey=name and are filtered by name's level. When
// base's handler is not already a Handler of l it is wrapped in one; when
// base is itself a named logger of l, the new name replaces the old one
// (attributes added after the old name are dropped). A nil base means
// slog.Default().
func (l *Levels) Logger(base *slog.Logger, name string) *slog.Logger {
	if base == nil {
		base = slog.Default()
	}
	h, ok := base.Handler().(*Handler)
	switch {
	case !ok || h.levels != l:
		h = NewHandler(base.Handler(), l)
	case h.unnamed != nil:
		h = h.unnamed // base is already a named logger: rename it
	}
	return slog.New(h).With(LoggerKey, name)
}
