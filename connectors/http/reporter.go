package httpsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/connect"
)

// reporter writes Confluent's result and error reporter records: one per
// input record, keyed by the record key's string form, with the input
// record's coordinates in input_record_* headers.
type reporter struct {
	cfg    reporterSettings
	client *kgo.Client
	log    *slog.Logger
}

func newReporter(ctx context.Context, cfg reporterSettings, log *slog.Logger) (*reporter, error) {
	seeds := strings.Split(cfg.bootstrap, ",")
	for i := range seeds {
		seeds[i] = strings.TrimSpace(seeds[i])
	}
	client, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0), kgo.RecordDeliveryTimeout(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("reporter: %w", err)
	}
	adm := kadm.NewClient(client)
	create := func(topic string, parts int32, rf int16) error {
		if topic == "" {
			return nil
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		res, err := adm.CreateTopic(cctx, parts, rf, nil, topic)
		if err == nil {
			err = res.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("reporter: create topic %s: %w", topic, err)
		}
		return nil
	}
	if err := create(cfg.resultTopic, cfg.resultParts, cfg.resultRF); err != nil {
		client.Close()
		return nil, err
	}
	if err := create(cfg.errorTopic, cfg.errorParts, cfg.errorRF); err != nil {
		client.Close()
		return nil, err
	}
	return &reporter{cfg: cfg, client: client, log: log}, nil
}

func (r *reporter) close() { r.client.Close() }

func inputHeaders(rec *connect.SinkRecord) []kgo.RecordHeader {
	ts := "null"
	if !rec.Timestamp.IsZero() {
		ts = strconv.FormatInt(rec.Timestamp.UnixMilli(), 10)
	}
	return []kgo.RecordHeader{
		{Key: "input_record_topic", Value: []byte(rec.Topic)},
		{Key: "input_record_partition", Value: []byte(strconv.Itoa(int(rec.Partition)))},
		{Key: "input_record_offset", Value: []byte(strconv.FormatInt(rec.KafkaOffset, 10))},
		{Key: "input_record_timestamp", Value: []byte(ts)},
	}
}

func reporterKey(rec *connect.SinkRecord) []byte {
	if rec.Key == nil {
		return nil
	}
	return []byte(keyString(rec))
}

// produce writes records and waits for the broker. A reporter write that
// fails is logged, not fatal: the HTTP outcome it describes stands.
func (r *reporter) produce(ctx context.Context, recs []*kgo.Record) {
	if err := r.client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		r.log.Warn("could not write reporter records", "records", len(recs), "err", err)
	}
}

// results writes one result record per input record.
func (r *reporter) results(ctx context.Context, recs []*connect.SinkRecord, resp *response) {
	if r.cfg.resultTopic == "" {
		return
	}
	out := make([]*kgo.Record, 0, len(recs))
	for _, rec := range recs {
		out = append(out, &kgo.Record{Topic: r.cfg.resultTopic, Key: reporterKey(rec), Value: resp.body, Headers: inputHeaders(rec)})
	}
	r.produce(ctx, out)
}

// errors writes one error record per input record.
func (r *reporter) errors(ctx context.Context, recs []*connect.SinkRecord, body []byte, resp *response, cause error, asResponse bool) {
	if r.cfg.errorTopic == "" {
		return
	}
	msg := errorString(resp, cause)
	value := []byte(msg)
	if asResponse && resp != nil {
		value = resp.body
	}
	status, reason, u, content, exc, emsg := "", "", "", "", "", ""
	if resp != nil {
		status, reason, u, content = strconv.Itoa(resp.status), resp.reason, resp.url, string(resp.body)
	}
	if cause != nil {
		exc, emsg = fmt.Sprintf("%T", cause), cause.Error()
	}
	out := make([]*kgo.Record, 0, len(recs))
	for _, rec := range recs {
		h := inputHeaders(rec)
		for _, kv := range [][2]string{{"status_code", status}, {"reason_phrase", reason}, {"url", u},
			{"response_content", content}, {"payload", string(body)}, {"exception", exc}, {"error_message", emsg}} {
			if kv[1] != "" {
				h = append(h, kgo.RecordHeader{Key: kv[0], Value: []byte(kv[1])})
			}
		}
		out = append(out, &kgo.Record{Topic: r.cfg.errorTopic, Key: reporterKey(rec), Value: value, Headers: h})
	}
	r.produce(ctx, out)
}
