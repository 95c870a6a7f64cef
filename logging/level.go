// Package logging gives Ferry log4j-style named loggers on top of log/slog:
// a registry of logger levels that can be changed at run time (as the
// /admin/loggers REST endpoints do) and a slog.Handler that filters each
// record by the level of the logger that emitted it.
package logging

import (
	"fmt"
	"log/slog"
	"math"
	"strings"
)

// Level is a log4j level. Its numeric value is the slog level it maps to,
// so DEBUG, INFO, WARN and ERROR coincide with slog's own levels.
type Level int

// The log4j levels, from most to least verbose. ALL lets every record
// through and OFF none.
const (
	LevelAll   Level = math.MinInt32
	LevelTrace Level = -8
	LevelDebug Level = Level(slog.LevelDebug)
	LevelInfo  Level = Level(slog.LevelInfo)
	LevelWarn  Level = Level(slog.LevelWarn)
	LevelError Level = Level(slog.LevelError)
	LevelFatal Level = 12
	LevelOff   Level = math.MaxInt32
)

var levelNames = []struct {
	name  string
	level Level
}{
	{"OFF", LevelOff},
	{"FATAL", LevelFatal},
	{"ERROR", LevelError},
	{"WARN", LevelWarn},
	{"INFO", LevelInfo},
	{"DEBUG", LevelDebug},
	{"TRACE", LevelTrace},
	{"ALL", LevelAll},
}

// ParseLevel parses a log4j level name, ignoring case.
func ParseLevel(s string) (Level, error) {
	for _, n := range levelNames {
		if strings.EqualFold(s, n.name) {
			return n.level, nil
		}
	}
	return 0, fmt.Errorf("invalid log level %q", s)
}

// String returns the log4j name of l ("INFO"). A value between two named
// levels is rendered as the more verbose of the two.
func (l Level) String() string {
	for _, n := range levelNames {
		if l >= n.level {
			return n.name
		}
	}
	return "ALL"
}

// SlogLevel returns the slog level records must reach to pass l.
func (l Level) SlogLevel() slog.Level { return slog.Level(l) }
