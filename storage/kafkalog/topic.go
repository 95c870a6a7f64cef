package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// TopicSpec describes an internal topic for EnsureTopic.
type TopicSpec struct {
	Name string
	// Property is the worker property that named the topic
	// ("config.storage.topic"), quoted in error messages.
	Property string
	// Purpose says what the topic keeps ("source connector offsets"),
	// quoted in the cleanup-policy error.
	Purpose string
	// Partitions and ReplicationFactor are used when creating the topic;
	// -1 means the broker default.
	Partitions        int32
	ReplicationFactor int16
	// Configs are extra topic configs for creation; cleanup.policy is
	// always compact whatever they say.
	Configs map[string]string
	// SinglePartition requires an existing topic to have one partition
	// (the config topic).
	SinglePartition bool
}

// Purposes of the three internal topics, as Apache words them.
const (
	PurposeConfigs  = "connector configurations"
	PurposeOffsets  = "source connector offsets"
	PurposeStatuses = "connector and task statuses"
)

// EnsureTopic creates the topic with cleanup.policy=compact if it does not
// exist. If it exists, its cleanup.policy must be exactly compact and, with
// SinglePartition, it must have one partition; otherwise the error carries
// Apache's message. A policy that cannot be read (no DescribeConfigs
// permission) is only logged, as Apache does.
func EnsureTopic(ctx context.Context, adm *kadm.Client, spec TopicSpec, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	configs := map[string]*string{}
	for k, v := range spec.Configs {
		configs[k] = &v
	}
	compact := "compact"
	configs["cleanup.policy"] = &compact
	partitions := spec.Partitions
	if spec.SinglePartition {
		partitions = 1
	}
	if partitions == 0 {
		partitions = -1
	}
	rf := spec.ReplicationFactor
	if rf == 0 {
		rf = -1
	}
	resp, err := adm.CreateTopic(ctx, partitions, rf, configs, spec.Name)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		log.Info("created internal topic", "topic", spec.Name, "partitions", resp.NumPartitions, "replication_factor", resp.ReplicationFactor)
		return nil
	case !errors.Is(err, kerr.TopicAlreadyExists):
		return fmt.Errorf("create topic %s: %w", spec.Name, err)
	}
	if err := verifyCompact(ctx, adm, spec, log); err != nil {
		return err
	}
	if spec.SinglePartition {
		topics, err := adm.ListTopics(ctx, spec.Name)
		if err != nil {
			return fmt.Errorf("describe topic %s: %w", spec.Name, err)
		}
		td, ok := topics[spec.Name]
		if ok && td.Err == nil && len(td.Partitions) > 1 {
			return fmt.Errorf("Topic '%s' supplied via the '%s' property is required to have a single partition in order to guarantee consistency of connector configurations, but found %d partitions.",
				spec.Name, spec.Property, len(td.Partitions))
		}
	}
	return nil
}

func verifyCompact(ctx context.Context, adm *kadm.Client, spec TopicSpec, log *slog.Logger) error {
	rcs, err := adm.DescribeTopicConfigs(ctx, spec.Name)
	var rc kadm.ResourceConfig
	if err == nil {
		rc, err = rcs.On(spec.Name, nil)
	}
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		log.Warn("cannot verify the cleanup policy of an internal topic", "topic", spec.Name, "error", err)
		return nil
	}
	var policy *string
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" {
			policy = c.Value
		}
	}
	if policy == nil {
		log.Warn("cannot verify the cleanup policy of an internal topic", "topic", spec.Name)
		return nil
	}
	var parts []string
	for _, p := range strings.Split(*policy, ",") {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			parts = append(parts, p)
		}
	}
	onlyCompact := len(parts) > 0
	for _, p := range parts {
		if p != "compact" {
			onlyCompact = false
		}
	}
	if onlyCompact {
		return nil
	}
	found := strings.Join(parts, ",")
	return fmt.Errorf("Topic '%s' supplied via the '%s' property is required to have 'cleanup.policy=compact' to guarantee consistency and durability of %s, but found the topic currently has 'cleanup.policy=%s'. Continuing would likely result in eventually losing %s and problems restarting this Connect cluster in the future. Change the '%s' property in the Connect worker configurations to use a topic with 'cleanup.policy=compact'.",
		spec.Name, spec.Property, spec.Purpose, found, spec.Purpose, spec.Property)
}
