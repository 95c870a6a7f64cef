package group

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ferryhq/ferry/runtime/herder"
)

// ProtocolType is the JoinGroup protocol type of Connect worker groups.
const ProtocolType = "connect"

// JoinGroup sub-protocol names, one per protocol version.
const (
	ProtocolDefault    = "default"    // version 0, eager rebalancing
	ProtocolCompatible = "compatible" // version 1, incremental cooperative
	ProtocolSessioned  = "sessioned"  // version 2, cooperative with signed internal requests
)

// Protocol versions carried in the metadata and assignment headers.
const (
	V0 int16 = 0
	V1 int16 = 1
	V2 int16 = 2
)

// Assignment error codes.
const (
	NoError        int16 = 0
	ConfigMismatch int16 = 1 // the leader was behind the config topic; read to the end and rejoin
)

// connectorMarker stands for the connector instance in a task number array.
const connectorMarker int32 = -1

// TaskID names one task of a connector.
type TaskID = herder.TaskID

// Mode is the worker's connect.protocol setting: which sub-protocols it offers.
type Mode string

// The connect.protocol values.
const (
	ModeEager      Mode = "eager"
	ModeCompatible Mode = "compatible"
	ModeSessioned  Mode = "sessioned" // the default
)

// ParseMode parses a connect.protocol value (case-insensitive).
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case ModeEager, ModeCompatible, ModeSessioned:
		return m, nil
	}
	return "", fmt.Errorf("group: invalid connect.protocol %q: want eager, compatible or sessioned", s)
}

// Protocols returns the sub-protocol names the mode offers in JoinGroup, most
// preferred first.
func (m Mode) Protocols() []string {
	switch m {
	case ModeEager:
		return []string{ProtocolDefault}
	case ModeCompatible:
		return []string{ProtocolCompatible, ProtocolDefault}
	default:
		return []string{ProtocolSessioned, ProtocolCompatible, ProtocolDefault}
	}
}

// ProtocolVersion returns the version number of a sub-protocol name.
func ProtocolVersion(protocol string) (int16, error) {
	switch protocol {
	case ProtocolDefault:
		return V0, nil
	case ProtocolCompatible:
		return V1, nil
	case ProtocolSessioned:
		return V2, nil
	}
	return 0, fmt.Errorf("group: unknown connect sub-protocol %q", protocol)
}

// WorkerState is a member's JoinGroup metadata.
type WorkerState struct {
	// Version is 0 (protocol default), 1 (compatible) or 2 (sessioned).
	Version int16
	// URL is the worker's advertised REST URL.
	URL string
	// ConfigOffset is the worker's config topic position: offset of the last
	// record read plus one, -1 when nothing was read.
	ConfigOffset int64
	// Allocation is what the worker currently runs (versions 1 and 2 only); nil
	// when it has no assignment yet.
	Allocation *Assignment
}

// Assignment is one member's SyncGroup assignment.
//
// On the wire, version 0 assignments are complete; version 1 and 2 assignments
// are deltas: Connectors and Tasks are newly assigned, and the Revoked lists
// name work to stop.
type Assignment struct {
	Version      int16
	Error        int16
	Leader       string // leader's member id
	LeaderURL    string // leader's REST URL
	ConfigOffset int64  // config topic offset the assignment was computed at
	Connectors   []string
	Tasks        []TaskID
	// Revoked work and Delay exist in versions 1 and 2 only.
	RevokedConnectors []string
	RevokedTasks      []TaskID
	// Delay is the time until the leader's scheduled follow-up rebalance; zero
	// means none. It travels in whole milliseconds.
	Delay time.Duration
}

// Failed reports whether the leader could not compute the assignment.
func (a *Assignment) Failed() bool { return a.Error != NoError }

// clone returns a deep copy so callers can keep and modify their own.
func (a *Assignment) clone() *Assignment {
	if a == nil {
		return nil
	}
	c := *a
	c.Connectors = append([]string(nil), a.Connectors...)
	c.Tasks = append([]TaskID(nil), a.Tasks...)
	c.RevokedConnectors = append([]string(nil), a.RevokedConnectors...)
	c.RevokedTasks = append([]TaskID(nil), a.RevokedTasks...)
	return &c
}

// EncodeMetadata serializes member metadata in the layout of ws.Version.
func EncodeMetadata(ws WorkerState) ([]byte, error) {
	var w writer
	w.int16(ws.Version)
	if err := w.string(ws.URL); err != nil {
		return nil, err
	}
	w.int64(ws.ConfigOffset)
	if ws.Version == V0 {
		return w.b, nil
	}
	if ws.Allocation == nil {
		w.int32(-1)
		return w.b, nil
	}
	alloc := *ws.Allocation
	// The allocation carries the same version as the metadata header.
	alloc.Version = ws.Version
	inner, err := EncodeAssignment(alloc)
	if err != nil {
		return nil, fmt.Errorf("group: encode allocation: %w", err)
	}
	w.bytes(inner)
	return w.b, nil
}

// DecodeMetadata parses member metadata. Like Apache's workers it rejects only
// negative versions and reads any other version with the version 0 layout
// (version 0) or the version 1 layout (version 1 and above), tolerating a
// missing allocation and ignoring trailing bytes.
func DecodeMetadata(b []byte) (WorkerState, error) {
	r := reader{b: b}
	var ws WorkerState
	ws.Version = r.int16()
	if r.err == nil && ws.Version < 0 {
		return ws, fmt.Errorf("group: unsupported metadata version %d", ws.Version)
	}
	ws.URL = r.string()
	ws.ConfigOffset = r.int64()
	if r.err != nil {
		return ws, fmt.Errorf("group: decode metadata: %w", r.err)
	}
	if ws.Version == V0 || r.done() {
		return ws, nil
	}
	inner, null := r.nullableBytes()
	if r.err != nil {
		return ws, fmt.Errorf("group: decode metadata allocation: %w", r.err)
	}
	if !null {
		a, err := DecodeAssignment(inner)
		if err != nil {
			return ws, fmt.Errorf("group: decode metadata allocation: %w", err)
		}
		ws.Allocation = &a
	}
	return ws, nil
}

// EncodeAssignment serializes an assignment in the layout of a.Version: version
// 0 without revocations and delay, versions 1 and 2 with them. Connector
// instances come first in each array (task number -1), then tasks are appended
// to the entry of their connector.
func EncodeAssignment(a Assignment) ([]byte, error) {
	if a.Version < 0 {
		return nil, fmt.Errorf("group: invalid assignment version %d", a.Version)
	}
	var w writer
	w.int16(a.Version)
	w.int16(a.Error)
	if err := w.string(a.Leader); err != nil {
		return nil, err
	}
	if err := w.string(a.LeaderURL); err != nil {
		return nil, err
	}
	w.int64(a.ConfigOffset)
	if err := w.connectorArray(a.Connectors, a.Tasks); err != nil {
		return nil, err
	}
	if a.Version == V0 {
		return w.b, nil
	}
	if err := w.connectorArray(a.RevokedConnectors, a.RevokedTasks); err != nil {
		return nil, err
	}
	ms := a.Delay.Milliseconds()
	if ms < 0 || ms > math.MaxInt32 {
		return nil, fmt.Errorf("group: assignment delay %v out of range", a.Delay)
	}
	w.int32(int32(ms))
	return w.b, nil
}

// DecodeAssignment parses an assignment the way Apache's members do: always
// with the version 1 layout, so a version 0 buffer simply ends before the
// revocations (empty) and the delay (0). Null arrays read as empty.
func DecodeAssignment(b []byte) (Assignment, error) {
	r := reader{b: b}
	var a Assignment
	a.Version = r.int16()
	if r.err == nil && a.Version < 0 {
		return a, fmt.Errorf("group: unsupported assignment version %d", a.Version)
	}
	a.Error = r.int16()
	a.Leader = r.string()
	a.LeaderURL = r.string()
	a.ConfigOffset = r.int64()
	if r.err != nil {
		return a, fmt.Errorf("group: decode assignment: %w", r.err)
	}
	if r.done() {
		return a, nil
	}
	a.Connectors, a.Tasks = r.connectorArray()
	if r.err == nil && !r.done() {
		a.RevokedConnectors, a.RevokedTasks = r.connectorArray()
	}
	if r.err == nil && !r.done() {
		a.Delay = time.Duration(r.int32()) * time.Millisecond
	}
	if r.err != nil {
		return a, fmt.Errorf("group: decode assignment: %w", r.err)
	}
	return a, nil
}

// writer appends Kafka protocol primitives, big-endian.
type writer struct{ b []byte }

func (w *writer) int16(v int16) { w.b = binary.BigEndian.AppendUint16(w.b, uint16(v)) }
func (w *writer) int32(v int32) { w.b = binary.BigEndian.AppendUint32(w.b, uint32(v)) }
func (w *writer) int64(v int64) { w.b = binary.BigEndian.AppendUint64(w.b, uint64(v)) }

func (w *writer) string(s string) error {
	if len(s) > math.MaxInt16 {
		return fmt.Errorf("group: string of %d bytes is too long for the protocol", len(s))
	}
	w.int16(int16(len(s)))
	w.b = append(w.b, s...)
	return nil
}

func (w *writer) bytes(p []byte) {
	w.int32(int32(len(p)))
	w.b = append(w.b, p...)
}

// connectorArray writes ARRAY(STRING connector, ARRAY(INT32) tasks).
func (w *writer) connectorArray(connectors []string, tasks []TaskID) error {
	type entry struct {
		name  string
		tasks []int32
	}
	var entries []*entry
	byName := make(map[string]*entry)
	get := func(name string) *entry {
		e, ok := byName[name]
		if !ok {
			e = &entry{name: name}
			byName[name] = e
			entries = append(entries, e)
		}
		return e
	}
	seen := make(map[string]bool, len(connectors))
	for _, c := range connectors {
		if seen[c] {
			continue
		}
		seen[c] = true
		e := get(c)
		e.tasks = append(e.tasks, connectorMarker)
	}
	for _, t := range tasks {
		if t.Task < 0 || t.Task > math.MaxInt32 {
			return fmt.Errorf("group: task number %d of %q out of range", t.Task, t.Connector)
		}
		e := get(t.Connector)
		e.tasks = append(e.tasks, int32(t.Task))
	}
	w.int32(int32(len(entries)))
	for _, e := range entries {
		if err := w.string(e.name); err != nil {
			return err
		}
		w.int32(int32(len(e.tasks)))
		for _, n := range e.tasks {
			w.int32(n)
		}
	}
	return nil
}

var errShort = errors.New("buffer too short")

// reader consumes Kafka protocol primitives; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) done() bool { return r.err != nil || len(r.b) == 0 }

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.err = errShort
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) int16() int16 {
	p := r.take(2)
	if p == nil {
		return 0
	}
	return int16(binary.BigEndian.Uint16(p))
}

func (r *reader) int32() int32 {
	p := r.take(4)
	if p == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(p))
}

func (r *reader) int64() int64 {
	p := r.take(8)
	if p == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(p))
}

func (r *reader) string() string {
	n := r.int16()
	if r.err == nil && n < 0 {
		r.err = fmt.Errorf("negative string length %d", n)
		return ""
	}
	return string(r.take(int(n)))
}

func (r *reader) nullableBytes() (p []byte, null bool) {
	n := r.int32()
	if r.err != nil {
		return nil, false
	}
	if n < 0 {
		return nil, true
	}
	return r.take(int(n)), false
}

// count reads an array length; -1 (null) reads as 0. It rejects lengths that
// cannot fit in the rest of the buffer (each element is at least min bytes).
func (r *reader) count(min int) int {
	n := r.int32()
	if r.err != nil || n < 0 {
		return 0
	}
	if int64(n)*int64(min) > int64(len(r.b)) {
		r.err = fmt.Errorf("array of %d elements exceeds the buffer", n)
		return 0
	}
	return int(n)
}

func (r *reader) connectorArray() (connectors []string, tasks []TaskID) {
	n := r.count(6)
	for range n {
		name := r.string()
		m := r.count(4)
		for range m {
			t := r.int32()
			if r.err != nil {
				return nil, nil
			}
			if t == connectorMarker {
				connectors = append(connectors, name)
			} else {
				tasks = append(tasks, TaskID{Connector: name, Task: int(t)})
			}
		}
		if r.err != nil {
			return nil, nil
		}
	}
	return connectors, tasks
}
