// Package kafkastore keeps the distributed worker's state in Kafka, in the
// three internal topics Apache Kafka Connect uses, with the same keys and
// value bytes so Ferry and Java workers can share a cluster (spec §4):
//
//   - OffsetStore: source offsets in offset.storage.topic (storage.OffsetStore);
//   - ConfigStore: connector and task configs, target states, session keys
//     and restart requests in config.storage.topic;
//   - StatusStore: connector, task and topic statuses in status.storage.topic.
//
// Each store reads its topic from the beginning through a kafkalog.Log and
// keeps the latest value per key in memory.
package kafkastore

import (
	"log/slog"

	"github.com/ferryhq/ferry/internal/kafkaclient"
	"github.com/ferryhq/ferry/storage/kafkalog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Options are the worker settings all three stores share.
type Options struct {
	// Brokers are the worker's bootstrap.servers.
	Brokers []string
	// GroupID is the worker's group.id; ClientID its client.id (may be
	// empty). Together they form the client ids "<group.id>-configs" or
	// "<group.id>-<client.id>-configs" (and -offsets, -statuses).
	GroupID  string
	ClientID string
	// ClientOpts carry the worker's connection settings (TLS, SASL,
	// timeouts) for franz-go.
	ClientOpts []kgo.Opt
	// Metrics, if set, receives the metrics of each store's client.
	Metrics *kafkaclient.Metrics
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// TopicOptions name an internal topic and how to create it when missing.
type TopicOptions struct {
	Topic string
	// Partitions is ignored for the config topic (always 1); 0 means the
	// Apache default (25 offsets, 5 status) and -1 the broker default.
	Partitions int32
	// ReplicationFactor: 0 means the Apache default 3, -1 the broker
	// default.
	ReplicationFactor int16
	// Configs are extra topic configs (the worker's
	// <store>.storage.<config> entries); cleanup.policy is always compact.
	Configs map[string]string
}

func (o Options) clientID(suffix string) string {
	base := o.GroupID + "-"
	if o.ClientID != "" {
		base += o.ClientID + "-"
	}
	return base + suffix
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

func newLog(o Options, t TopicOptions, property, purpose, suffix string, defPartitions int32, single bool, consume func(*kgo.Record)) (*kafkalog.Log, error) {
	parts := t.Partitions
	if parts == 0 {
		parts = defPartitions
	}
	rf := t.ReplicationFactor
	if rf == 0 {
		rf = 3
	}
	return kafkalog.New(kafkalog.Config{
		Topic:      t.Topic,
		Brokers:    o.Brokers,
		ClientID:   o.clientID(suffix),
		ClientOpts: o.ClientOpts,
		Metrics:    o.Metrics,
		Ensure: &kafkalog.TopicSpec{
			Name: t.Topic, Property: property, Purpose: purpose,
			Partitions: parts, ReplicationFactor: rf, Configs: t.Configs, SinglePartition: single,
		},
		Consume: consume,
		Logger:  o.logger(),
	})
}
