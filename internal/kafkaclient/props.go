package kafkaclient

import (
	"fmt"
	"maps"
	"strings"
)

// Worker key prefixes that configure one kind of client.
const (
	ProducerPrefix = "producer."
	ConsumerPrefix = "consumer."
	AdminPrefix    = "admin."
)

func stripPrefix(m map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out[rest] = v
		}
	}
	return out
}

func topLevel(worker map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range worker {
		if !strings.HasPrefix(k, ProducerPrefix) && !strings.HasPrefix(k, ConsumerPrefix) && !strings.HasPrefix(k, AdminPrefix) {
			out[k] = v
		}
	}
	return out
}

// Props returns the client properties Apache Kafka Connect gives a client
// of the given kind (operations.md §1.4):
//
//   - Worker (group member, internal topics, shared admin): the worker's
//     top-level keys;
//   - Producer: bootstrap.servers, the worker's producer.* keys, then the
//     connector's producer.override.* keys: top-level security keys are not
//     inherited;
//   - Consumer: likewise with consumer.* and consumer.override.*;
//   - Admin: the top-level keys, then admin.*, then admin.override.*.
//
// connector may be nil.
func Props(kind Kind, worker, connector map[string]string) map[string]string {
	var out map[string]string
	switch kind {
	case Worker:
		return topLevel(worker)
	case Producer, Consumer:
		prefix, override := ProducerPrefix, ProducerOverridePrefix
		if kind == Consumer {
			prefix, override = ConsumerPrefix, ConsumerOverridePrefix
		}
		out = map[string]string{}
		if b, ok := worker["bootstrap.servers"]; ok {
			out["bootstrap.servers"] = b
		}
		maps.Copy(out, stripPrefix(worker, prefix))
		maps.Copy(out, stripPrefix(connector, override))
	case Admin:
		out = topLevel(worker)
		maps.Copy(out, stripPrefix(worker, AdminPrefix))
		maps.Copy(out, stripPrefix(connector, AdminOverridePrefix))
	}
	return out
}

// Brokers returns bootstrap.servers of props, split on commas.
func Brokers(props map[string]string) []string {
	var out []string
	for _, b := range strings.Split(props["bootstrap.servers"], ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// CheckWorker builds every kind of client from the worker's properties,
// as a start-up check: the error lists each security setting the worker
// cannot honour; the warnings each property Ferry ignores.
func CheckWorker(worker map[string]string) (warnings []string, err error) {
	for _, kind := range []Kind{Worker, Producer, Consumer, Admin} {
		b, berr := Build(kind, Props(kind, worker, nil))
		if berr != nil {
			prefix := ""
			if kind != Worker {
				prefix = kind.String() + " "
			}
			return nil, fmt.Errorf("invalid %sKafka client configuration: %w", prefix, berr)
		}
		if kind == Admin {
			warnings = append(warnings, Warnings(Admin, stripPrefix(worker, AdminPrefix))...)
			continue
		}
		warnings = append(warnings, b.Warnings...)
	}
	// Apache's producers and consumers do not inherit the top-level
	// security keys; a worker that sets them only there is a common
	// mistake, which the brokers answer with bare disconnects.
	if top := strings.ToUpper(strings.TrimSpace(worker["security.protocol"])); top != "" && top != Plaintext {
		for _, prefix := range []string{ProducerPrefix, ConsumerPrefix} {
			if strings.TrimSpace(worker[prefix+"security.protocol"]) == "" {
				warnings = append(warnings, fmt.Sprintf("security.protocol=%s is set but %ssecurity.protocol is not: as in Apache Kafka Connect, %s clients of connectors use PLAINTEXT unless the security keys are repeated under %s", top, prefix, strings.TrimSuffix(prefix, "."), prefix))
			}
		}
	}
	return warnings, nil
}
