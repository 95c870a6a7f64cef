package task

import (
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/storage/memstore"
)

// classedError names the transform that raised it, as the runtime's
// transformation chain does.
type classedError struct {
	class string
	err   error
}

func (e classedError) Error() string       { return e.err.Error() }
func (e classedError) Unwrap() error       { return e.err }
func (e classedError) PluginClass() string { return e.class }

func headerMap(r *kgo.Record) map[string]string {
	m := map[string]string{}
	for _, h := range r.Headers {
		m[h.Key] = string(h.Value)
	}
	return m
}

func dlqSpec(t *testing.T, bootstrap string, headers bool) DeadLetterQueue {
	return DeadLetterQueue{
		Topic:             testbed.UniqueName(t, "dlq"),
		ReplicationFactor: 1,
		ContextHeaders:    headers,
		KafkaOpts:         []kgo.Opt{kgo.SeedBrokers(strings.Split(bootstrap, ",")...)},
	}
}

var testClasses = PluginClasses{
	KeyConverter:    "test.KeyConverter",
	ValueConverter:  "test.ValueConverter",
	HeaderConverter: "test.HeaderConverter",
	Task:            "test.SinkTask",
}

// TestSinkDLQ: records failing conversion or transformation under
// errors.tolerance=all go to the queue with their original bytes, headers
// and timestamp plus the context headers, and the offsets past them are
// committed.
func TestSinkDLQ(t *testing.T) {
	ss := newSinkSetup(t)
	ts := time.UnixMilli(1700000000123)
	testbed.Produce(t, ss.bootstrap, ss.topic,
		&kgo.Record{Value: []byte("v0")},
		&kgo.Record{Key: []byte("k1"), Value: []byte("poison"), Timestamp: ts, Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}},
		&kgo.Record{Value: []byte("v2")},
		&kgo.Record{Value: []byte("tbad")},
		&kgo.Record{Value: []byte("v4")},
	)
	ev := &events{}
	task := newCollectingSink()
	dlq := dlqSpec(t, ss.bootstrap, true)
	sink := ss.newSink(t, task, ev, func(s *Spec) {
		s.Errors = ErrorPolicy{Tolerance: ToleranceAll, LogErrors: true, LogMessages: true}
		s.DLQ = dlq
		s.Classes = testClasses
		s.Transforms = transformFunc(func(r *connect.Record) (*connect.Record, error) {
			if r.Value == "tbad" {
				return nil, classedError{"test.Transform", connect.NewDataError("transform refused", errors.New("inner cause"))}
			}
			return r, nil
		})
	})
	runTask(t, sink)
	if got := strings.Join(task.waitValues(t, 3), ","); got != "v0,v2,v4" {
		t.Fatalf("delivered %s", got)
	}
	waitCommitted(t, ss.bootstrap, ss.group, ss.topic, 5)

	recs := testbed.ConsumeN(t, ss.bootstrap, dlq.Topic, 2, 30*time.Second)
	r := recs[0]
	if string(r.Key) != "k1" || string(r.Value) != "poison" || !r.Timestamp.Equal(ts) {
		t.Fatalf("first DLQ record %q=%q at %v", r.Key, r.Value, r.Timestamp)
	}
	if r.Headers[0].Key != "h" || string(r.Headers[0].Value) != "x" {
		t.Fatalf("original header not first: %v", r.Headers)
	}
	h := headerMap(r)
	want := map[string]string{
		"__connect.errors.topic":                ss.topic,
		"__connect.errors.partition":            "0",
		"__connect.errors.offset":               "1",
		"__connect.errors.connector.name":       ss.conn,
		"__connect.errors.task.id":              "0",
		"__connect.errors.stage":                "VALUE_CONVERTER",
		"__connect.errors.class.name":           "test.ValueConverter",
		"__connect.errors.exception.class.name": "org.apache.kafka.connect.errors.DataException",
	}
	for k, v := range want {
		if h[k] != v {
			t.Errorf("header %s = %q, want %q", k, h[k], v)
		}
	}
	if h["__connect.errors.exception.message"] != "Converting byte[] to Kafka Connect data failed due to serialization error" ||
		!strings.Contains(h["__connect.errors.exception.stacktrace"], "Caused by: *errors.errorString: unexpected token 'poison'") ||
		!strings.Contains(h["__connect.errors.exception.stacktrace"], "Caused by: ") {
		t.Errorf("exception headers %q / %q", h["__connect.errors.exception.message"], h["__connect.errors.exception.stacktrace"])
	}
	h = headerMap(recs[1])
	if string(recs[1].Value) != "tbad" || h["__connect.errors.stage"] != "TRANSFORMATION" || h["__connect.errors.class.name"] != "test.Transform" ||
		h["__connect.errors.offset"] != "3" || h["__connect.errors.exception.message"] != "transform refused" {
		t.Fatalf("second DLQ record %q headers %v", recs[1].Value, h)
	}
	stopAndWait(t, sink)
	if ev.failure() != nil {
		t.Fatal(ev.failure())
	}
}

// TestSinkDLQToleranceNone: as in Apache, the failing record is written to
// the queue and then fails the task; nothing past it is committed.
func TestSinkDLQToleranceNone(t *testing.T) {
	ss := newSinkSetup(t)
	produceValues(t, ss.bootstrap, ss.topic, "v0", "v1", "poison", "v3")
	ev := &events{}
	task := newCollectingSink()
	dlq := dlqSpec(t, ss.bootstrap, false)
	sink := ss.newSink(t, task, ev, func(s *Spec) { s.DLQ = dlq })
	runTask(t, sink)
	ev.waitFor(t, "failure", 1)
	<-sink.Done()
	if got := committedOffset(t, ss.bootstrap, ss.group, ss.topic); got > 2 {
		t.Fatalf("committed %d: past the poison record", got)
	}
	r := testbed.ConsumeN(t, ss.bootstrap, dlq.Topic, 1, 30*time.Second)[0]
	if string(r.Value) != "poison" || len(r.Headers) != 1 || r.Headers[0].Key != "h" {
		t.Fatalf("DLQ record %q headers %v (context headers are off)", r.Value, r.Headers)
	}
}

// reportingSink reports every record whose value starts with "bad" and
// keeps the others.
type reportingSink struct {
	collectingSink
	reporter connect.ErrantRecordReporter
	reportMu sync.Mutex
	reported []error
}

func (s *reportingSink) Start(ctx context.Context, tc connect.SinkTaskContext, cfg map[string]string) error {
	if p, ok := tc.(connect.ErrantReporterProvider); ok {
		s.reporter = p.ErrantRecordReporter()
	}
	return s.collectingSink.Start(ctx, tc, cfg)
}

func (s *reportingSink) Put(ctx context.Context, recs []*connect.SinkRecord) error {
	var good []*connect.SinkRecord
	for _, r := range recs {
		if v, _ := r.Value.(string); strings.HasPrefix(v, "bad") {
			if s.reporter == nil {
				return errors.New("no reporter")
			}
			err := s.reporter.Report(ctx, r, fmt.Errorf("cannot store %s", v))
			s.reportMu.Lock()
			s.reported = append(s.reported, err)
			s.reportMu.Unlock()
			if err != nil {
				return err
			}
			continue
		}
		good = append(good, r)
	}
	return s.collectingSink.Put(ctx, good)
}

func TestSinkErrantRecordReporter(t *testing.T) {
	ss := newSinkSetup(t)
	produceValues(t, ss.bootstrap, ss.topic, "v0", "bad1", "v2", "bad3", "v4")
	ev := &events{}
	task := &reportingSink{collectingSink: *newCollectingSink()}
	dlq := dlqSpec(t, ss.bootstrap, true)
	sink := ss.newSink(t, task, ev, func(s *Spec) {
		s.Errors = ErrorPolicy{Tolerance: ToleranceAll}
		s.DLQ = dlq
		s.Classes = testClasses
		s.Transforms = transformFunc(func(r *connect.Record) (*connect.Record, error) {
			// The task sees a changed topic; the queue still gets the
			// consumed record.
			out := *r
			out.Topic = "renamed"
			return &out, nil
		})
	})
	runTask(t, sink)
	if got := strings.Join(task.waitValues(t, 3), ","); got != "v0,v2,v4" {
		t.Fatalf("delivered %s", got)
	}
	waitCommitted(t, ss.bootstrap, ss.group, ss.topic, 5)
	recs := testbed.ConsumeN(t, ss.bootstrap, dlq.Topic, 2, 30*time.Second)
	for i, want := range []string{"bad1", "bad3"} {
		h := headerMap(recs[i])
		if string(recs[i].Value) != want || h["h"] != "x" || h["__connect.errors.stage"] != "TASK_PUT" ||
			h["__connect.errors.class.name"] != "test.SinkTask" || h["__connect.errors.topic"] != ss.topic ||
			h["__connect.errors.exception.message"] != "cannot store "+want {
			t.Fatalf("DLQ record %d: %q headers %v", i, recs[i].Value, h)
		}
	}
	stopAndWait(t, sink)
	if ev.failure() != nil {
		t.Fatal(ev.failure())
	}
}

// TestSinkErrantRecordReporterToleranceNone: a report fails the task; the
// reported record is not committed past.
func TestSinkErrantRecordReporterToleranceNone(t *testing.T) {
	ss := newSinkSetup(t)
	produceValues(t, ss.bootstrap, ss.topic, "v0", "bad1", "v2")
	ev := &events{}
	task := &reportingSink{collectingSink: *newCollectingSink()}
	sink := ss.newSink(t, task, ev, func(s *Spec) { s.Errors = ErrorPolicy{LogErrors: true} })
	runTask(t, sink)
	ev.waitFor(t, "failure", 1)
	<-sink.Done()
	if err := ev.failure(); !strings.Contains(err.Error(), "Tolerance exceeded in error handler: TASK_PUT failed") {
		t.Fatalf("failure %v", err)
	}
	if got := committedOffset(t, ss.bootstrap, ss.group, ss.topic); got > 1 {
		t.Fatalf("committed %d: past the reported record", got)
	}
}

// TestSinkNoErrantRecordReporter: without a queue or error logging there is
// no reporter, as in Apache.
func TestSinkNoErrantRecordReporter(t *testing.T) {
	ss := newSinkSetup(t)
	task := &reportingSink{collectingSink: *newCollectingSink()}
	sink := ss.newSink(t, task, &events{}, nil)
	tc := &sinkContext{s: sink}
	if r := tc.ErrantRecordReporter(); r != nil {
		t.Fatalf("reporter %v without DLQ and logging", r)
	}
}

// TestSourceDLQ (a Ferry extension): a source record that fails conversion
// under errors.tolerance=all is written to the queue as JSON, and its
// source offset is stored once that write is acknowledged.
func TestSourceDLQ(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "src")
	conn := testbed.UniqueName(t, "conn")
	store := memstore.New()
	ev := &events{}
	spec := baseSpec(t, bootstrap, conn, ev)
	spec.Errors = ErrorPolicy{Tolerance: ToleranceAll}
	spec.DLQ = dlqSpec(t, bootstrap, true)
	spec.Classes = testClasses
	task := newCountingSource(topic, 20)
	task.poison = 19 // the last record: its offset is the one stored
	src, err := NewSource(spec, task, SourceOptions{Offsets: store, FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runTask(t, src)
	values(t, bootstrap, topic, 19)
	waitStoredPos(t, store, conn, 19)
	r := testbed.ConsumeN(t, bootstrap, spec.DLQ.Topic, 1, 30*time.Second)[0]
	if want := `{"headers":[],"partition":null,"topic":"` + topic + `","value":"poison","key":"k19"}`; !jsonEqual(t, string(r.Value), want) {
		t.Fatalf("DLQ value %s, want %s", r.Value, want)
	}
	h := headerMap(r)
	if h["__connect.errors.source.partition"] != `{"p":"x"}` || h["__connect.errors.source.offset"] != `{"pos":19}` ||
		h["__connect.errors.stage"] != "VALUE_CONVERTER" || h["__connect.errors.class.name"] != "test.ValueConverter" ||
		h["__connect.errors.topic"] != topic || h["__connect.errors.connector.name"] != conn {
		t.Fatalf("DLQ headers %v", h)
	}
	stopAndWait(t, src)
	if ev.failure() != nil {
		t.Fatal(ev.failure())
	}
}

// jsonEqual compares JSON objects regardless of key order.
func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	return normJSON(t, a) == normJSON(t, b)
}

func normJSON(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := stdjson.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %s", s)
	}
	b, _ := stdjson.Marshal(v)
	return string(b)
}

func TestExceptionClassAndStacktrace(t *testing.T) {
	de := connect.NewDataError("bad data", errors.New("root"))
	if got := exceptionClass(fmt.Errorf("wrapped: %w", de)); got != javaDataException {
		t.Fatalf("class %s", got)
	}
	if got := exceptionClass(connect.Retriable(errors.New("later"))); got != javaRetriableException {
		t.Fatalf("class %s", got)
	}
	if got := exceptionClass(fmt.Errorf("x: %w", context.Canceled)); got != "*errors.errorString" {
		t.Fatalf("class %s", got)
	}
	st := stacktrace(de)
	if st != "org.apache.kafka.connect.errors.DataException: bad data\nCaused by: *errors.errorString: root\n" {
		t.Fatalf("stacktrace %q", st)
	}
}
