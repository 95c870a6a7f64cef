package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/kafkaclient"
	"github.com/ferryhq/ferry/runtime/configprovider"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Every Kafka client of the worker is configured through kafkaclient from
// Apache's Java client property names, with Apache's rules for which keys
// reach which client (worker top-level keys, producer./consumer./admin.
// prefixes, connector *.override. keys under the override policy).

// KafkaOpts returns the options of the worker's own clients (group member,
// internal topics, shared admin): bootstrap.servers and the top-level
// connection and security keys. clientID may be empty: such options may
// serve several clients at once (the internal topics' logs), so they carry
// no metrics hook, which must be added per client (kafkalog.Config.Metrics).
func (w *WorkerConfig) KafkaOpts(logger *slog.Logger, clientID string) ([]kgo.Opt, error) {
	props := kafkaclient.Props(kafkaclient.Worker, w.Raw, nil)
	b, err := kafkaclient.Build(kafkaclient.Worker, props)
	if err != nil {
		return nil, fmt.Errorf("invalid Kafka client configuration: %w", err)
	}
	opts := []kgo.Opt{kgo.SeedBrokers(w.Brokers()...)}
	if clientID != "" {
		opts = append(opts, kgo.ClientID(clientID), w.ClientMetrics.Opt())
	}
	if logger != nil {
		opts = append(opts, kafkaclient.Logger(logger, clientID))
	}
	return append(opts, b.Opts...), nil
}

// OverridePolicy is connector.client.config.override.policy (checked by
// ParseWorkerConfig).
func (w *WorkerConfig) OverridePolicy() kafkaclient.Policy {
	p, _ := kafkaclient.ParsePolicy(w.String(WOverridePolicy))
	return p
}

// connectorClientOpts builds the options of a connector's producer,
// consumer or admin client: the worker's prefixed keys and the connector's
// overrides, which the override policy must allow.
func (w *Worker) connectorClientOpts(kind kafkaclient.Kind, connConfig map[string]string, clientID string, logger *slog.Logger) ([]kgo.Opt, error) {
	prefix := map[kafkaclient.Kind]string{kafkaclient.Producer: kafkaclient.ProducerOverridePrefix,
		kafkaclient.Consumer: kafkaclient.ConsumerOverridePrefix, kafkaclient.Admin: kafkaclient.AdminOverridePrefix}[kind]
	if err := w.cfg.OverridePolicy().Check(connConfig, prefix); err != nil {
		return nil, err
	}
	props := kafkaclient.Props(kind, w.cfg.Raw, connConfig)
	b, err := kafkaclient.Build(kind, props)
	if err != nil {
		return nil, fmt.Errorf("invalid %s configuration for %s: %w", kind, clientID, err)
	}
	b.LogWarnings(logger, clientID)
	opts := []kgo.Opt{kgo.SeedBrokers(kafkaclient.Brokers(props)...), kgo.ClientID(clientID), kafkaclient.Logger(logger, clientID),
		w.cfg.ClientMetrics.Opt()}
	return append(opts, b.Opts...), nil
}

// ValidateOption adds context to ValidateConnectorConfig.
type ValidateOption func(*validateOptions)

type validateOptions struct {
	worker *WorkerConfig
	logger *slog.Logger
}

// WithWorker checks the connector's client overrides against the worker's
// override policy and client settings; warnings go to logger.
func WithWorker(w *WorkerConfig, logger *slog.Logger) ValidateOption {
	return func(o *validateOptions) { o.worker, o.logger = w, logger }
}

// clientOverrideErrors validates the override keys Apache validates for a
// connector of this kind: policy violations and security settings the
// clients cannot honour, per connector key.
func clientOverrideErrors(w *WorkerConfig, logger *slog.Logger, kind connect.PluginKind, config map[string]string) map[string][]string {
	out := map[string][]string{}
	policy := w.OverridePolicy()
	for k, msg := range policy.Violations(config, kafkaclient.OverridePrefixes(kind == connect.KindSource, strings.TrimSpace(config[KeyDLQTopic]) != "")...) {
		out[k] = append(out[k], msg)
	}
	kinds := map[string]kafkaclient.Kind{kafkaclient.ProducerOverridePrefix: kafkaclient.Producer,
		kafkaclient.ConsumerOverridePrefix: kafkaclient.Consumer, kafkaclient.AdminOverridePrefix: kafkaclient.Admin}
	for _, prefix := range kafkaclient.OverridePrefixes(kind == connect.KindSource, strings.TrimSpace(config[KeyDLQTopic]) != "") {
		var keys []string
		for k := range config {
			if strings.HasPrefix(k, prefix) {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			continue // the worker's own settings were checked at start
		}
		slices.Sort(keys)
		if slices.ContainsFunc(keys, func(k string) bool { return configprovider.HasPlaceholder(config[k]) }) {
			// Resolved only when a task starts; the task reports problems then.
			continue
		}
		ck := kinds[prefix]
		b, err := kafkaclient.Build(ck, kafkaclient.Props(ck, w.Raw, config))
		if err != nil {
			for _, e := range unjoin(err) {
				key := keys[0]
				var ue *kafkaclient.UnsupportedError
				if errors.As(e, &ue) {
					if _, ok := config[prefix+ue.Key]; ok {
						key = prefix + ue.Key
					}
				}
				out[key] = append(out[key], e.Error())
			}
			continue
		}
		if logger != nil {
			var warnings []string
			if ck == kafkaclient.Admin {
				warnings = kafkaclient.Warnings(ck, connect.StripPrefix(config, prefix))
			} else {
				warnings = b.Warnings
			}
			for _, msg := range warnings {
				logger.Warn(msg, "connector", config[KeyName])
			}
		}
	}
	return out
}

// unjoin flattens errors.Join trees into their leaves.
func unjoin(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, unjoin(e)...)
	}
	return out
}
