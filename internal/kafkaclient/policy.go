package kafkaclient

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Connector keys that override client properties (KIP-458).
const (
	ProducerOverridePrefix = "producer.override."
	ConsumerOverridePrefix = "consumer.override."
	AdminOverridePrefix    = "admin.override."
)

// Policy is connector.client.config.override.policy: which client
// properties a connector may override.
type Policy string

// The policies of Apache Kafka 4.1.
const (
	PolicyAll       Policy = "All"
	PolicyNone      Policy = "None"
	PolicyPrincipal Policy = "Principal"
)

const policyPackage = "org.apache.kafka.connect.connector.policy."

// ParsePolicy accepts a policy's alias (All, None, Principal) or class
// name, as Apache's plugin lookup does.
func ParsePolicy(v string) (Policy, error) {
	name := strings.TrimSpace(v)
	name = strings.TrimPrefix(name, policyPackage)
	name = strings.TrimSuffix(name, "ConnectorClientConfigOverridePolicy")
	for _, p := range []Policy{PolicyAll, PolicyNone, PolicyPrincipal} {
		if name == string(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("Invalid value %s for configuration connector.client.config.override.policy: Ferry supports All, None and Principal (or their %s<Name>ConnectorClientConfigOverridePolicy class names)", v, policyPackage)
}

// principalKeys are the keys the Principal policy lets a connector set.
var principalKeys = []string{"sasl.jaas.config", "sasl.mechanism", "security.protocol"}

// Allows reports whether the policy lets a connector override the client
// property key (without its prefix).
func (p Policy) Allows(key string) bool {
	switch p {
	case PolicyAll:
		return true
	case PolicyPrincipal:
		return slices.Contains(principalKeys, key)
	}
	return false
}

// OverridePrefixes are the override prefixes Apache checks for a
// connector: producer and admin overrides for sources; consumer and admin
// overrides for sinks, plus producer overrides when the sink has a dead
// letter queue.
func OverridePrefixes(source bool, dlq bool) []string {
	if source {
		return []string{ProducerOverridePrefix, AdminOverridePrefix}
	}
	if dlq {
		return []string{ConsumerOverridePrefix, ProducerOverridePrefix, AdminOverridePrefix}
	}
	return []string{ConsumerOverridePrefix, AdminOverridePrefix}
}

// Violations returns, per connector key under the given prefixes that the
// policy does not allow, Apache's message for it.
func (p Policy) Violations(connector map[string]string, prefixes ...string) map[string]string {
	out := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(connector)) {
		for _, prefix := range prefixes {
			if name, ok := strings.CutPrefix(k, prefix); ok && !p.Allows(name) {
				out[k] = fmt.Sprintf("The '%s' policy does not allow '%s' to be overridden in the connector configuration.", p, name)
			}
		}
	}
	return out
}

// Check returns an error naming every override under prefix the policy
// does not allow; it is what a task start reports.
func (p Policy) Check(connector map[string]string, prefix string) error {
	v := p.Violations(connector, prefix)
	if len(v) == 0 {
		return nil
	}
	msgs := make([]string, 0, len(v))
	for _, k := range slices.Sorted(maps.Keys(v)) {
		msgs = append(msgs, v[k])
	}
	return fmt.Errorf("Client Config Overrides not allowed: %s", strings.Join(msgs, " "))
}
