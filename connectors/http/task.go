package httpsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"

	"github.com/ferryhq/ferry/connect"
)

// Connector is the HTTP sink connector: every task gets the same config
// and sends whatever partitions the consumer group assigns it.
type Connector struct {
	flavour flavour
	config  map[string]string
}

var (
	_ connect.SinkConnector   = (*Connector)(nil)
	_ connect.ConfigValidator = (*Connector)(nil)
	_ connect.OffsetAlterer   = (*Connector)(nil)
)

// Start checks the config.
func (c *Connector) Start(_ context.Context, _ connect.ConnectorContext, config map[string]string) error {
	if _, err := parseSettings(c.flavour, config); err != nil {
		return err
	}
	c.config = maps.Clone(config)
	return nil
}

// TaskConfigs returns maxTasks copies of the connector config.
func (c *Connector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	return connect.CopiesForTasks(c.config, maxTasks), nil
}

// Stop does nothing: the connector holds no resources.
func (c *Connector) Stop() error { return nil }

// NewTask returns a fresh sink task.
func (c *Connector) NewTask() connect.SinkTask { return &Task{flavour: c.flavour} }

// ValidateConfig reports the rules that span keys under the key to fix.
func (c *Connector) ValidateConfig(config map[string]string) map[string][]string {
	def := AivenConfigDef()
	if c.flavour == confluent {
		def = ConfluentConfigDef()
	}
	if _, err := def.Parse(config); err != nil {
		return nil // single-key errors are reported by the ConfigDef itself
	}
	if _, err := parseSettings(c.flavour, config); err != nil {
		var ce *connect.ConfigError
		if errors.As(err, &ce) {
			return map[string][]string{ce.Name: {ce.Error()}}
		}
		return map[string][]string{"connector.class": {err.Error()}}
	}
	return nil
}

// AlterOffsets accepts any change: the sink stores no offsets of its own.
func (c *Connector) AlterOffsets(map[string]string, []connect.PartitionOffset) (bool, error) {
	return true, nil
}

// recordID names a record by its Kafka coordinates.
type recordID struct {
	topic     string
	partition int32
	offset    int64
}

func idOf(r *connect.SinkRecord) recordID { return recordID{r.Topic, r.Partition, r.KafkaOffset} }

// Task sends records synchronously in Put.
type Task struct {
	flavour flavour
	s       *settings
	tc      connect.SinkTaskContext
	log     *slog.Logger
	sender  *sender
	render  *renderer
	errant  connect.ErrantRecordReporter
	report  *reporter

	// done holds the records of a batch the runtime will deliver again
	// (after a Retriable error) that were already sent or settled, so a
	// redelivery does not send them twice. It is emptied when a Put ends
	// without a Retriable error.
	done map[recordID]struct{}
	// cur and settled are the records of the running Put and which of
	// them were sent or otherwise dealt with.
	cur     []*connect.SinkRecord
	settled []bool
}

var (
	_ connect.SinkTask         = (*Task)(nil)
	_ connect.PartitionHandler = (*Task)(nil)
)

// Start parses the config and prepares the HTTP client and reporters.
func (t *Task) Start(ctx context.Context, tc connect.SinkTaskContext, config map[string]string) error {
	s, err := parseSettings(t.flavour, config)
	if err != nil {
		return err
	}
	t.s, t.tc, t.log = s, tc, tc.Logger()
	if t.sender, err = newSender(s, t.log); err != nil {
		return err
	}
	t.render = newRenderer(s)
	t.done = map[recordID]struct{}{}
	if p, ok := tc.(connect.ErrantReporterProvider); ok {
		t.errant = p.ErrantRecordReporter()
	}
	tc.SetRetryTimeout(s.kafkaBackoff)
	if s.reporter.resultTopic != "" || s.reporter.errorTopic != "" {
		if t.report, err = newReporter(ctx, s.reporter, t.log); err != nil {
			return err
		}
	}
	return nil
}

// Stop releases the HTTP connections and the reporter producer.
func (t *Task) Stop() error {
	if t.sender != nil {
		t.sender.close()
	}
	if t.report != nil {
		t.report.close()
		t.report = nil
	}
	return nil
}

// Open does nothing: the task keeps no per-partition state.
func (t *Task) Open(context.Context, []connect.TopicPartition) error { return nil }

// Close forgets the settled records of revoked partitions.
func (t *Task) Close(_ context.Context, tps []connect.TopicPartition) error {
	for _, tp := range tps {
		for id := range t.done {
			if id.topic == tp.Topic && id.partition == tp.Partition {
				delete(t.done, id)
			}
		}
	}
	return nil
}

// group is a batch being built: records bound for one URL and batch key.
type group struct {
	url    string
	idx    []int // indices into the Put's records
	pieces [][]byte
	size   int
}

// Put sends the records. Records of one request share a URL (and, for
// Confluent, a batch key); a request goes out as soon as it holds
// batch.max.size records, the rest at the end of the Put.
func (t *Task) Put(ctx context.Context, records []*connect.SinkRecord) error {
	t.cur, t.settled = records, make([]bool, len(records))
	err := t.put(ctx)
	if connect.IsRetriable(err) {
		// Remember what was sent, so the redelivery sends only the rest.
		for i, ok := range t.settled {
			if ok {
				t.done[idOf(records[i])] = struct{}{}
			}
		}
	} else {
		clear(t.done)
	}
	t.cur, t.settled = nil, nil
	return err
}

func (t *Task) put(ctx context.Context) error {
	var order []string
	groups := map[string]*group{}
	flushAll := func() error {
		for _, k := range order {
			if g := groups[k]; len(g.idx) > 0 {
				if err := t.sendGroup(ctx, g); err != nil {
					return err
				}
			}
		}
		order, groups = order[:0], map[string]*group{}
		return nil
	}
	for i, rec := range t.cur {
		if len(t.done) > 0 {
			if _, ok := t.done[idOf(rec)]; ok {
				t.settled[i] = true
				continue
			}
		}
		if rec.Value == nil {
			if err := flushAll(); err != nil {
				return err
			}
			if err := t.nullValue(ctx, i); err != nil {
				return err
			}
			continue
		}
		piece, err := t.render.value(rec)
		if err != nil {
			if err := t.fail(ctx, []int{i}, nil, err, nil); err != nil {
				return err
			}
			continue
		}
		target := expandURL(t.s.url, rec)
		key := target
		if t.flavour == confluent {
			key += "\x00" + expandKey(t.s.keyPattern, rec)
		}
		g := groups[key]
		if g == nil {
			n := min(t.s.batchMax, len(t.cur)-i)
			g = &group{url: target, idx: make([]int, 0, n), pieces: make([][]byte, 0, n)}
			groups[key] = g
			order = append(order, key)
		}
		g.idx = append(g.idx, i)
		g.pieces = append(g.pieces, piece)
		g.size += len(piece)
		if len(g.idx) >= t.s.batchMax {
			if err := t.sendGroup(ctx, g); err != nil {
				return err
			}
			g.idx, g.pieces, g.size = g.idx[:0], g.pieces[:0], 0
		}
	}
	return flushAll()
}

func (t *Task) contentType() string {
	if t.flavour == confluent && t.s.format == formatJSON {
		for _, h := range t.s.headers {
			if strings.EqualFold(h.name, "Content-Type") {
				return ""
			}
		}
		return "application/json"
	}
	return ""
}

// sendGroup sends one request and settles its records.
func (t *Task) sendGroup(ctx context.Context, g *group) error {
	body := batchBody(t.s, g.pieces, g.size)
	resp, err := t.sender.send(ctx, t.s.method, g.url, body, t.contentType())
	return t.settle(ctx, g.idx, body, resp, err)
}

// nullValue applies the null-value rule to a tombstone.
func (t *Task) nullValue(ctx context.Context, i int) error {
	rec := t.cur[i]
	switch t.s.nullBehavior {
	case "ignore":
		t.settled[i] = true
		return nil
	case "log":
		t.log.Info("skipping a record with a null value", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.KafkaOffset, "key", keyString(rec))
		t.settled[i] = true
		return nil
	case "delete":
		target := expandURL(t.s.url, rec)
		resp, err := t.sender.send(ctx, "DELETE", target, nil, "")
		return t.settle(ctx, []int{i}, nil, resp, err)
	}
	err := connect.NewDataError("Record value must not be null", nil)
	if t.flavour == aiven {
		return err // Aiven's connector fails the task, whatever errors.tolerance says
	}
	return t.fail(ctx, []int{i}, nil, err, nil)
}

// settle handles the outcome of one request for its records.
func (t *Task) settle(ctx context.Context, idx []int, body []byte, resp *response, err error) error {
	if err != nil {
		var ue *unavailableError
		if errors.As(err, &ue) {
			t.log.Warn("the HTTP server is unavailable; the batch will be delivered again", "records", len(idx), "backoff", t.s.kafkaBackoff, "err", err)
			t.tc.SetRetryTimeout(t.s.kafkaBackoff)
			return connect.Retriable(err)
		}
		if ctx.Err() != nil {
			return connect.Retriable(err) // stopping: the runtime decides
		}
		return err
	}
	if resp.ok() {
		for _, i := range idx {
			t.settled[i] = true
		}
		if t.report != nil {
			t.report.results(ctx, t.records(idx), resp)
		}
		return nil
	}
	if unavailable(resp.status) {
		wait := max(t.s.kafkaBackoff, resp.retryAfter)
		t.tc.SetRetryTimeout(wait)
		t.log.Warn("the HTTP server cannot take requests now; the batch will be delivered again",
			"status", resp.status, "records", len(idx), "backoff", wait)
		return connect.Retriable(fmt.Errorf("%s", errorString(resp, nil)))
	}
	return t.fail(ctx, idx, body, nil, resp)
}

func (t *Task) records(idx []int) []*connect.SinkRecord {
	out := make([]*connect.SinkRecord, len(idx))
	for j, i := range idx {
		out[j] = t.cur[i]
	}
	return out
}

// errorString describes a failed request as Confluent's error reporter does.
func errorString(resp *response, cause error) string {
	status, reason, u, content, exc, msg := "null", "null", "null", "null", "null", "null"
	if resp != nil {
		status, reason, u, content = fmt.Sprint(resp.status), resp.reason, resp.url, string(resp.body)
	}
	if cause != nil {
		exc, msg = fmt.Sprintf("%T", cause), cause.Error()
	}
	return fmt.Sprintf("Retry time lapsed, unable to process HTTP request. HTTP Response code: %s, Reason phrase: %s, Url: %s, Response content: %s, Exception: %s, Error message: %s",
		status, reason, u, content, exc, msg)
}

// requestError is a request the server refused.
type requestError struct{ resp *response }

func (e *requestError) Error() string {
	return fmt.Sprintf("Server replied with status code %d and body %s (url %s)", e.resp.status, truncate(string(e.resp.body), 2000), e.resp.url)
}

// fail settles records that cannot be written: a refused request (resp)
// or a record error (cause).
func (t *Task) fail(ctx context.Context, idx []int, body []byte, cause error, resp *response) error {
	recs := t.records(idx)
	err := cause
	if resp != nil {
		err = &requestError{resp}
	}
	if t.report != nil {
		t.report.errors(ctx, recs, body, resp, cause, t.s.errorsAsResponse)
	}
	switch t.s.errorBehavior {
	case "ignore":
	case "log":
		t.log.Warn("records could not be sent; skipping them (behavior.on.error=log)", "records", len(recs), "err", err)
	default:
		if t.errant == nil || !t.s.batchingAllowsReporter {
			return err
		}
		for _, r := range recs {
			if rerr := t.errant.Report(ctx, r, err); rerr != nil {
				return rerr
			}
		}
	}
	for _, i := range idx {
		t.settled[i] = true
	}
	return nil
}
