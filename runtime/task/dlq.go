package task

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/connect"
	json "github.com/ferryhq/ferry/internal/javajson"
	"github.com/ferryhq/ferry/internal/kafkaclient"
	"github.com/ferryhq/ferry/runtime/herder"
)

// DeadLetterQueue is the errors.deadletterqueue.* configuration of a
// connector. Sinks write the raw consumed bytes of a failed record, as
// Apache does; sources (a Ferry extension) write the failed record as
// schemaless JSON.
type DeadLetterQueue struct {
	// Topic is errors.deadletterqueue.topic.name; empty disables the queue.
	Topic string
	// ReplicationFactor is used when the topic has to be created (with one
	// partition); -1 means the broker default.
	ReplicationFactor int16
	// ContextHeaders adds the __connect.errors.* headers.
	ContextHeaders bool
	// KafkaOpts are the producer's client settings (seeds, security, the
	// worker's producer.* and the connector's producer.override.*).
	KafkaOpts []kgo.Opt
	// AdminOpts, when set, configure the admin client that creates the
	// topic (Apache: the worker's top-level and admin.* keys and the
	// connector's admin.override.*); without them the producer creates it.
	AdminOpts []kgo.Opt
}

// PluginClasses names the Java classes of a task's plugins, for the
// __connect.errors.class.name header.
type PluginClasses struct {
	KeyConverter    string
	ValueConverter  string
	HeaderConverter string
	// Task is the connector's task class (stage TASK_PUT of reported
	// records).
	Task string
}

// PluginClassError is implemented by errors that know the Java class of the
// plugin that raised them; a transformation chain wraps the failures of its
// stages in one so that the dead letter queue can name the transform.
type PluginClassError interface {
	error
	PluginClass() string
}

// transformationClass is reported when a transformation failure does not
// name its transform.
const transformationClass = "org.apache.kafka.connect.transforms.Transformation"

// Header names of the dead letter queue context (Apache's, plus the
// source extension's).
const (
	hdrPrefix          = "__connect.errors."
	hdrTopic           = hdrPrefix + "topic"
	hdrPartition       = hdrPrefix + "partition"
	hdrOffset          = hdrPrefix + "offset"
	hdrConnector       = hdrPrefix + "connector.name"
	hdrTaskID          = hdrPrefix + "task.id"
	hdrStage           = hdrPrefix + "stage"
	hdrClass           = hdrPrefix + "class.name"
	hdrException       = hdrPrefix + "exception.class.name"
	hdrExceptionMsg    = hdrPrefix + "exception.message"
	hdrStacktrace      = hdrPrefix + "exception.stacktrace"
	hdrSourcePartition = hdrPrefix + "source.partition"
	hdrSourceOffset    = hdrPrefix + "source.offset"
)

// stageTaskPut is the stage of records a sink task reported itself.
const stageTaskPut = "TASK_PUT"

// dlqDeliveryTimeout bounds one dead letter queue write, as the Java
// producer's delivery.timeout.ms default does, so that waiting for the
// queue before a commit always ends.
const dlqDeliveryTimeout = 2 * time.Minute

// failure describes why a record went to the dead letter queue.
type failure struct {
	stage string
	class string // Java class of the plugin that failed
	err   error
}

// dlqWriter produces failed records to the dead letter queue topic. It is
// safe for concurrent use: errant-record reports may come from any
// goroutine of a sink task.
type dlqWriter struct {
	topic   string
	headers bool
	id      herder.TaskID
	client  *kgo.Client
	log     *slog.Logger

	mu        sync.Mutex
	reportErr error // first failed write of a task's own report
}

// openDLQ connects the producer and creates the topic when it is missing.
func openDLQ(ctx context.Context, cfg DeadLetterQueue, id herder.TaskID, log *slog.Logger) (*dlqWriter, error) {
	opts := []kgo.Opt{
		kgo.ClientID(fmt.Sprintf("connector-dlq-producer-%s-%d", id.Connector, id.Task)),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MetadataMinAge(250 * time.Millisecond),
	}
	opts = append(opts, cfg.KafkaOpts...)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("Could not initialize dead letter queue with topic=%s: %w", cfg.Topic, err)
	}
	if err := kafkaclient.Probe(ctx, client); err != nil {
		client.Close()
		return nil, fmt.Errorf("Could not initialize dead letter queue with topic=%s: producer: %w", cfg.Topic, err)
	}
	admin := client
	if len(cfg.AdminOpts) > 0 {
		if admin, err = kgo.NewClient(cfg.AdminOpts...); err != nil {
			client.Close()
			return nil, fmt.Errorf("Could not initialize dead letter queue with topic=%s: %w", cfg.Topic, err)
		}
		defer admin.Close()
	}
	if err := ensureDLQTopic(ctx, admin, cfg, log); err != nil {
		client.Close()
		return nil, fmt.Errorf("Could not initialize dead letter queue with topic=%s: %w", cfg.Topic, err)
	}
	return &dlqWriter{topic: cfg.Topic, headers: cfg.ContextHeaders, id: id, client: client, log: log}, nil
}

func ensureDLQTopic(ctx context.Context, client *kgo.Client, cfg DeadLetterQueue, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(client)
	topics, err := adm.ListTopics(ctx, cfg.Topic)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	if topics.Has(cfg.Topic) {
		return nil
	}
	log.Error("dead letter queue topic does not exist, creating it", "topic", cfg.Topic, "replication_factor", cfg.ReplicationFactor)
	resp, err := adm.CreateTopic(ctx, 1, cfg.ReplicationFactor, nil, cfg.Topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic: %w", err)
	}
	return nil
}

// write produces rec. A failed write is logged, as Apache does for records
// that failed in the pipeline; when fatal (a task's own report) it is also
// kept for flush to return. done, when set, runs once the write completed.
func (d *dlqWriter) write(rec *kgo.Record, fatal bool, done func(error)) {
	// kgo's own delivery timeout counts from the record's timestamp, which
	// here is the consumed record's; bound the write by a context instead.
	ctx, cancel := context.WithTimeout(context.Background(), dlqDeliveryTimeout)
	d.client.Produce(ctx, rec, func(_ *kgo.Record, err error) {
		cancel()
		if err != nil {
			d.log.Error("Could not produce message to dead letter queue", "topic", d.topic, "error", err)
			if fatal {
				d.mu.Lock()
				if d.reportErr == nil {
					d.reportErr = fmt.Errorf("write errant record to dead letter queue %s: %w", d.topic, err)
				}
				d.mu.Unlock()
			}
		}
		if done != nil {
			done(err)
		}
	})
}

// flush waits until every write issued so far completed. It returns ctx's
// error, or the failure of a task's own report (which must fail the task).
func (d *dlqWriter) flush(ctx context.Context) error {
	if err := d.client.Flush(ctx); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reportErr
}

// close gives outstanding writes up to timeout, then closes the producer.
func (d *dlqWriter) close(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := d.client.Flush(ctx); err != nil {
		d.log.Warn("dead letter queue writes still outstanding at close", "topic", d.topic, "error", err)
	}
	d.client.Close()
}

// sinkRecord is what goes to the queue for a consumed record: its original
// key, value, headers and timestamp, plus the context headers.
func (d *dlqWriter) sinkRecord(orig *kgo.Record, f failure) *kgo.Record {
	r := &kgo.Record{Topic: d.topic, Key: orig.Key, Value: orig.Value}
	if ms := orig.Timestamp.UnixMilli(); ms >= 0 && !orig.Timestamp.IsZero() {
		r.Timestamp = orig.Timestamp // otherwise the producer stamps it
	}
	r.Headers = append(make([]kgo.RecordHeader, 0, len(orig.Headers)+10), orig.Headers...)
	if d.headers {
		r.Headers = addHeader(d.log, r.Headers, hdrTopic, orig.Topic)
		r.Headers = addHeader(d.log, r.Headers, hdrPartition, strconv.FormatInt(int64(orig.Partition), 10))
		r.Headers = addHeader(d.log, r.Headers, hdrOffset, strconv.FormatInt(orig.Offset, 10))
		r.Headers = d.contextHeaders(r.Headers, f)
	}
	return r
}

// sourceRecord is what goes to the queue for a source record: the record
// as schemaless JSON (or, if it cannot be encoded, the encoding error),
// plus the context headers with the source partition and offset.
func (d *dlqWriter) sourceRecord(src *connect.SourceRecord, rec *connect.Record, f failure) *kgo.Record {
	r := &kgo.Record{Topic: d.topic, Value: sourceRecordJSON(rec)}
	if !rec.Timestamp.IsZero() && rec.Timestamp.UnixMilli() >= 0 {
		r.Timestamp = rec.Timestamp
	}
	if d.headers {
		r.Headers = addHeader(d.log, r.Headers, hdrTopic, rec.Topic)
		r.Headers = addHeader(d.log, r.Headers, hdrSourcePartition, jsonText(src.SourcePartition))
		r.Headers = addHeader(d.log, r.Headers, hdrSourceOffset, jsonText(src.SourceOffset))
		r.Headers = d.contextHeaders(r.Headers, f)
	}
	return r
}

func (d *dlqWriter) contextHeaders(h []kgo.RecordHeader, f failure) []kgo.RecordHeader {
	h = addHeader(d.log, h, hdrConnector, d.id.Connector)
	h = addHeader(d.log, h, hdrTaskID, strconv.Itoa(d.id.Task))
	h = addHeader(d.log, h, hdrStage, f.stage)
	h = addHeader(d.log, h, hdrClass, f.class)
	if f.err != nil {
		h = addHeader(d.log, h, hdrException, exceptionClass(f.err))
		h = addHeader(d.log, h, hdrExceptionMsg, javaMessage(f.err))
		h = addHeader(d.log, h, hdrStacktrace, stacktrace(f.err))
	}
	return h
}

// addHeader appends a context header unless the record already has one of
// that name (Apache keeps the existing one and logs).
func addHeader(log *slog.Logger, h []kgo.RecordHeader, key, value string) []kgo.RecordHeader {
	for i := range h {
		if h[i].Key == key {
			log.Error("record already has a dead letter queue context header", "header", key)
			return h
		}
	}
	return append(h, kgo.RecordHeader{Key: key, Value: []byte(value)})
}

// Java exception classes for the Go errors that mean the same.
const (
	javaDataException      = "org.apache.kafka.connect.errors.DataException"
	javaRetriableException = "org.apache.kafka.connect.errors.RetriableException"
)

// exceptionClass names err the way the exception header does: Apache's
// class for Connect's own error kinds, else the Go type of the first error
// in the chain that is more than a fmt wrapper.
func exceptionClass(err error) string {
	var de *connect.DataError
	if errors.As(err, &de) {
		return javaDataException
	}
	if connect.IsRetriable(err) {
		return javaRetriableException
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if t := fmt.Sprintf("%T", e); !strings.HasPrefix(t, "*fmt.wrapError") {
			return t
		}
	}
	return fmt.Sprintf("%T", err)
}

// javaMessage is what Java's getMessage would say for err: Connect's data
// errors carry their cause separately, so their message is their own text
// alone (JsonConverter's "...failed due to serialization error: ").
func javaMessage(err error) string {
	var de *connect.DataError
	if errors.As(err, &de) && de.Msg != "" && de.Error() == err.Error() {
		return de.Msg
	}
	return err.Error()
}

// stacktrace renders the error chain like a Java stack trace's headlines:
// the error, then one "Caused by:" line per wrapped cause whose message adds
// something.
func stacktrace(err error) string {
	var b strings.Builder
	b.WriteString(exceptionClass(err))
	b.WriteString(": ")
	b.WriteString(javaMessage(err))
	prev := err.Error()
	for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
		msg := e.Error()
		if msg == prev {
			continue // a type-only wrapper such as Retriable
		}
		prev = msg
		b.WriteString("\nCaused by: ")
		b.WriteString(exceptionClass(e))
		b.WriteString(": ")
		b.WriteString(javaMessage(e))
	}
	b.WriteByte('\n')
	return b.String()
}

// classOf names the plugin behind a failure in stage.
func classOf(stage string, classes PluginClasses, err error) string {
	switch stage {
	case stageKeyConverter:
		return classes.KeyConverter
	case stageValueConverter:
		return classes.ValueConverter
	case stageHeaderConverter:
		return classes.HeaderConverter
	case stageTaskPut:
		return classes.Task
	case stageTransformation:
		var pe PluginClassError
		if errors.As(err, &pe) {
			return pe.PluginClass()
		}
		return transformationClass
	}
	return ""
}

// sourceRecordJSON encodes a source record for the queue, best effort.
func sourceRecordJSON(rec *connect.Record) []byte {
	var partition any
	if rec.Partition >= 0 {
		partition = rec.Partition
	}
	headers := make([]any, 0, len(rec.Headers))
	for _, h := range rec.Headers {
		headers = append(headers, map[string]any{"key": h.Key, "value": plain(h.Value)})
	}
	doc := map[string]any{
		"topic":     rec.Topic,
		"partition": partition,
		"key":       plain(rec.Key),
		"value":     plain(rec.Value),
		"headers":   headers,
	}
	b, err := json.MarshalSchemaless(doc)
	if err != nil {
		return []byte(fmt.Sprintf("record could not be encoded as JSON: %v", err))
	}
	return b
}

// plain turns Connect values the schemaless JSON encoding does not take
// (structs, times, decimals) into ones it does.
func plain(v any) any {
	switch x := v.(type) {
	case nil, bool, string, []byte, int8, int16, int32, int64, int, float32, float64:
		return x
	case *connect.Struct:
		m := make(map[string]any, len(x.Schema().Fields))
		for i, f := range x.Schema().Fields {
			m[f.Name] = plain(x.GetAt(i))
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	case []connect.MapEntry:
		out := make([]connect.MapEntry, len(x))
		for i, e := range x {
			out[i] = connect.MapEntry{Key: plain(e.Key), Value: plain(e.Value)}
		}
		return out
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return connect.FormatValue(v)
}

// jsonText renders a source partition or offset as JSON.
func jsonText(m map[string]any) string {
	if m == nil {
		return "null"
	}
	b, err := json.MarshalSchemaless(m)
	if err != nil {
		return fmt.Sprint(m)
	}
	return string(b)
}

// origKey identifies a consumed record.
type origKey struct {
	topic     string
	partition int32
	offset    int64
}

// awaitDLQ waits for the dead letter queue writes issued so far. It
// reports false when the commit must not happen: the wait was interrupted,
// or a task's own report could not be written, which fails the task as
// Apache's errant-record reporter does.
func (s *Sink) awaitDLQ(ctx context.Context) bool {
	if s.dlq == nil {
		return true
	}
	err := s.dlq.flush(ctx)
	if err == nil {
		return true
	}
	if ctx.Err() != nil {
		s.log.Warn("offset commit skipped: dead letter queue writes still outstanding", "error", err)
	} else {
		s.setCallbackErr(err)
	}
	return false
}

// ErrantRecordReporter implements connect.ErrantReporterProvider. As in
// Apache, there is a reporter only when the connector has a dead letter
// queue or logs errors.
func (c *sinkContext) ErrantRecordReporter() connect.ErrantRecordReporter {
	if c.s.spec.DLQ.Topic == "" && !c.s.spec.Errors.LogErrors {
		return nil
	}
	c.s.keepOriginals.Store(true)
	return errantReporter{c.s}
}

// errantReporter is a sink task's connect.ErrantRecordReporter.
type errantReporter struct{ s *Sink }

// Report logs the record (errors.log.enable), queues its original bytes for
// the dead letter queue, and under errors.tolerance=none fails the task.
func (r errantReporter) Report(_ context.Context, rec *connect.SinkRecord, err error) error {
	s := r.s
	if rec == nil {
		return errors.New("errant record reporter: the record is nil")
	}
	if err == nil {
		err = errors.New("reported by the task without an error")
	}
	k := origKey{rec.OriginalTopic, rec.OriginalPartition, rec.OriginalOffset}
	describe := func(withData bool) string {
		d := fmt.Sprintf("record at topic %q partition %d offset %d", k.topic, k.partition, k.offset)
		if withData {
			d += fmt.Sprintf(" (timestamp %s, key %s, value %s)", rec.Timestamp.UTC().Format(time.RFC3339Nano),
				connect.FormatValue(rec.Key), connect.FormatValue(rec.Value))
		}
		return d
	}
	if s.spec.Errors.LogErrors {
		s.log.Error("sink task reported an errant record", "stage", stageTaskPut,
			"record", describe(s.spec.Errors.LogMessages), "error", err)
	}
	if s.dlq != nil {
		s.mu.Lock()
		orig := s.originals[k]
		s.mu.Unlock()
		if orig == nil {
			return fmt.Errorf("errant record reporter: %s is not an uncommitted record of this task", describe(false))
		}
		f := failure{stage: stageTaskPut, class: classOf(stageTaskPut, s.spec.Classes, err), err: err}
		s.dlq.write(s.dlq.sinkRecord(orig, f), true, nil)
	}
	if s.spec.Errors.Tolerance != ToleranceAll {
		terr := &toleranceError{stage: stageTaskPut, record: describe(false), err: err}
		s.setCallbackErr(terr)
		return terr
	}
	return nil
}
