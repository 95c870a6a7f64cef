package runtime

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/backoff"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/storage"
)

// OffsetsAPI implements the KIP-875 offsets endpoints for one worker or
// cluster: source offsets in an OffsetStore, sink offsets in consumer groups.
type OffsetsAPI struct {
	Registry *connect.Registry
	Offsets  storage.OffsetStore
	Admin    *kadm.Client
}

// Messages Apache returns from the offsets API.
const (
	msgAltered        = "The offsets for this connector have been altered successfully"
	msgAlteredManaged = "The Connect framework-managed offsets for this connector have been altered successfully. However, if this connector manages offsets externally, they will need to be manually altered in the system that the connector uses."
	msgReset          = "The offsets for this connector have been reset successfully"
	msgResetManaged   = "The Connect framework-managed offsets for this connector have been reset successfully. However, if this connector manages offsets externally, they will need to be manually reset in the system that the connector uses."
)

// Get returns a connector's offsets.
func (a *OffsetsAPI) Get(ctx context.Context, name string, config map[string]string) (*herder.ConnectorOffsets, error) {
	p, ok := a.Registry.LookupConnector(config[KeyConnectorClass])
	if !ok {
		return nil, herder.Internal(nil, "Connector class %s is not installed", config[KeyConnectorClass])
	}
	out := &herder.ConnectorOffsets{Offsets: []herder.ConnectorOffset{}}
	if p.Kind == connect.KindSource {
		pos, err := a.Offsets.ConnectorOffsets(ctx, name)
		if err != nil {
			return nil, herder.Internal(err, "Failed to retrieve offsets for source connector %s", name)
		}
		for _, po := range pos {
			out.Offsets = append(out.Offsets, herder.ConnectorOffset{Partition: po.Partition, Offset: po.Offset})
		}
		return out, nil
	}
	resp, err := a.Admin.FetchOffsets(ctx, SinkGroupID(config))
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return nil, herder.Internal(err, "Failed to retrieve consumer group offsets for sink connector %s", name)
	}
	resp.Each(func(o kadm.OffsetResponse) {
		out.Offsets = append(out.Offsets, herder.ConnectorOffset{
			Partition: map[string]any{"kafka_topic": o.Topic, "kafka_partition": int64(o.Partition)},
			Offset:    map[string]any{"kafka_offset": o.At},
		})
	})
	return out, nil
}

// Alter applies new offsets (nil offset = reset that partition).
func (a *OffsetsAPI) Alter(ctx context.Context, name string, config map[string]string, req *herder.ConnectorOffsets) (string, error) {
	p, ok := a.Registry.LookupConnector(config[KeyConnectorClass])
	if !ok {
		return "", herder.Internal(nil, "Connector class %s is not installed", config[KeyConnectorClass])
	}
	pos := make([]connect.PartitionOffset, len(req.Offsets))
	for i, o := range req.Offsets {
		pos[i] = connect.PartitionOffset{Partition: o.Partition, Offset: o.Offset}
	}
	if p.Kind == connect.KindSink {
		tps, err := parseSinkOffsets(req)
		if err != nil {
			return "", err
		}
		managed, err := a.callAlterer(p, name, config, pos)
		if err != nil {
			return "", err
		}
		if err := a.applySinkOffsets(ctx, name, SinkGroupID(config), tps); err != nil {
			return "", err
		}
		return pick(managed, msgAltered, msgAlteredManaged), nil
	}
	entries := make([]storage.Entry, 0, len(req.Offsets))
	for _, o := range req.Offsets {
		if o.Partition == nil {
			return "", herder.BadRequest("The partition for a source connector offset cannot be null or missing")
		}
		k, err := storage.OffsetKey(name, o.Partition)
		if err != nil {
			return "", herder.BadRequest("%v", err)
		}
		var v []byte
		if o.Offset != nil {
			if v, err = storage.OffsetValue(o.Offset); err != nil {
				return "", herder.BadRequest("%v", err)
			}
		}
		entries = append(entries, storage.Entry{Key: k, Value: v})
	}
	managed, err := a.callAlterer(p, name, config, pos)
	if err != nil {
		return "", err
	}
	if err := a.Offsets.Set(ctx, entries); err != nil {
		return "", herder.Internal(err, "Failed to alter offsets for source connector %s: %v", name, err)
	}
	return pick(managed, msgAltered, msgAlteredManaged), nil
}

// Reset removes every offset of a connector.
func (a *OffsetsAPI) Reset(ctx context.Context, name string, config map[string]string) (string, error) {
	p, ok := a.Registry.LookupConnector(config[KeyConnectorClass])
	if !ok {
		return "", herder.Internal(nil, "Connector class %s is not installed", config[KeyConnectorClass])
	}
	if p.Kind == connect.KindSink {
		managed, err := a.callAlterer(p, name, config, nil)
		if err != nil {
			return "", err
		}
		err = retryWhileGroupBusy(ctx, func() error {
			resp, err := a.Admin.DeleteGroups(ctx, SinkGroupID(config))
			if err == nil {
				for _, r := range resp {
					if r.Err != nil && r.Err != kerr.GroupIDNotFound {
						err = r.Err
					}
				}
			}
			return err
		})
		if err != nil {
			return "", herder.Internal(err, "Failed to reset consumer group offsets for connector %s either because its tasks haven't stopped completely yet or the connector was resumed before the request to reset its offsets could be successfully completed. If the connector is in a stopped state, this operation can be safely retried. If it doesn't eventually succeed, the Connect cluster may need to be restarted to get rid of the zombie sink tasks.", name)
		}
		return pick(managed, msgReset, msgResetManaged), nil
	}
	current, err := a.Offsets.ConnectorOffsets(ctx, name)
	if err != nil {
		return "", herder.Internal(err, "Failed to retrieve offsets for source connector %s", name)
	}
	reset := make([]connect.PartitionOffset, len(current))
	entries := make([]storage.Entry, 0, len(current))
	for i, po := range current {
		reset[i] = connect.PartitionOffset{Partition: po.Partition}
		k, err := storage.OffsetKey(name, po.Partition)
		if err != nil {
			return "", herder.Internal(err, "Failed to reset offsets for source connector %s: %v", name, err)
		}
		entries = append(entries, storage.Entry{Key: k})
	}
	managed, err := a.callAlterer(p, name, config, reset)
	if err != nil {
		return "", err
	}
	if len(entries) > 0 {
		if err := a.Offsets.Set(ctx, entries); err != nil {
			return "", herder.Internal(err, "Failed to reset offsets for source connector %s: %v", name, err)
		}
	}
	return pick(managed, msgReset, msgResetManaged), nil
}

func pick(managed bool, yes, no string) string {
	if managed {
		return yes
	}
	return no
}

// callAlterer lets the connector veto or follow an offsets change.
func (a *OffsetsAPI) callAlterer(p connect.Plugin, name string, config map[string]string, pos []connect.PartitionOffset) (bool, error) {
	alt, ok := p.New().(connect.OffsetAlterer)
	if !ok {
		return false, nil
	}
	managed, err := alt.AlterOffsets(config, pos)
	if err != nil {
		return false, herder.BadRequest("%v", err)
	}
	return managed, nil
}

type sinkOffset struct {
	topic     string
	partition int32
	offset    *int64
}

func parseSinkOffsets(req *herder.ConnectorOffsets) ([]sinkOffset, error) {
	out := make([]sinkOffset, 0, len(req.Offsets))
	for _, o := range req.Offsets {
		if o.Partition == nil {
			return nil, herder.BadRequest("The partition for a sink connector offset cannot be null or missing")
		}
		topicV, hasT := o.Partition["kafka_topic"]
		partV, hasP := o.Partition["kafka_partition"]
		if !hasT || !hasP {
			return nil, herder.BadRequest("The partition for a sink connector offset must contain the keys 'kafka_topic' and 'kafka_partition'")
		}
		topic, _ := topicV.(string)
		if topicV == nil || topic == "" {
			return nil, herder.BadRequest("Kafka topic names must be valid strings that are not null")
		}
		if partV == nil {
			return nil, herder.BadRequest("Kafka partitions must be valid numbers that are not null")
		}
		part, err := asInt(partV)
		if err != nil {
			return nil, herder.BadRequest("Failed to parse the following Kafka partition value in the provided offsets: '%v'. Partition values for sink connectors need to be integers.", partV)
		}
		so := sinkOffset{topic: topic, partition: int32(part)}
		if o.Offset != nil {
			offV, ok := o.Offset["kafka_offset"]
			if !ok {
				return nil, herder.BadRequest("The offset for a sink connector should either be null or contain the key 'kafka_offset'")
			}
			off, err := asInt(offV)
			if err != nil {
				return nil, herder.BadRequest("Failed to parse the following Kafka offset value in the provided offsets: '%v'. Offset values for sink connectors need to be integers.", offV)
			}
			so.offset = &off
		}
		out = append(out, so)
	}
	return out, nil
}

func asInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case float64:
		if x == float64(int64(x)) {
			return int64(x), nil
		}
	case string:
		return strconv.ParseInt(strings.TrimSpace(x), 10, 64)
	}
	return 0, fmt.Errorf("not an integer: %v", v)
}

func (a *OffsetsAPI) applySinkOffsets(ctx context.Context, name, group string, tps []sinkOffset) error {
	commit := kadm.Offsets{}
	del := kadm.TopicsSet{}
	for _, so := range tps {
		if so.offset != nil {
			commit.Add(kadm.Offset{Topic: so.topic, Partition: so.partition, At: *so.offset, LeaderEpoch: -1})
		} else {
			del.Add(so.topic, so.partition)
		}
	}
	fail := func(err error) error {
		return herder.Internal(err, "Failed to alter consumer group offsets for connector %s either because its tasks haven't stopped completely yet or the connector was resumed before the request to alter its offsets could be successfully completed. If the connector is in a stopped state, this operation can be safely retried. If it doesn't eventually succeed, the Connect cluster may need to be restarted to get rid of the zombie sink tasks.", name)
	}
	if len(commit) > 0 {
		err := retryWhileGroupBusy(ctx, func() error {
			resp, err := a.Admin.CommitOffsets(ctx, group, commit)
			if err == nil {
				err = resp.Error()
			}
			return err
		})
		if err != nil {
			return fail(err)
		}
	}
	if len(del) > 0 {
		resp, err := a.Admin.DeleteOffsets(ctx, group, del)
		if err == nil {
			err = resp.Error()
		}
		if err != nil && err != kerr.GroupIDNotFound {
			return fail(err)
		}
	}
	return nil
}

// Lag reports the consumer lag of a sink connector, per partition of the
// topics it consumes (partitions with no commit count from the start).
func (a *OffsetsAPI) Lag(ctx context.Context, name string, config map[string]string) (*herder.ConnectorLag, error) {
	p, ok := a.Registry.LookupConnector(config[KeyConnectorClass])
	if !ok || p.Kind != connect.KindSink {
		return nil, herder.BadRequest("Connector %s is not a sink connector; lag applies to sink connectors", name)
	}
	group := SinkGroupID(config)
	committed, err := a.Admin.FetchOffsets(ctx, group)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return nil, herder.Internal(err, "Failed to retrieve consumer group offsets for sink connector %s: %v", name, err)
	}
	topics := splitList(config[KeyTopics])
	if len(topics) == 0 {
		for t := range committed {
			topics = append(topics, t)
		}
	}
	ends, err := a.Admin.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, herder.Internal(err, "Failed to list end offsets for %s: %v", strings.Join(topics, ","), err)
	}
	starts, err := a.Admin.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, herder.Internal(err, "Failed to list start offsets for %s: %v", strings.Join(topics, ","), err)
	}
	out := &herder.ConnectorLag{Connector: name, Group: group, Partitions: []herder.PartitionLag{}}
	ends.Each(func(e kadm.ListedOffset) {
		pl := herder.PartitionLag{Topic: e.Topic, Partition: e.Partition, Committed: -1, End: e.Offset}
		from := int64(0)
		if s, ok := starts.Lookup(e.Topic, e.Partition); ok {
			from = s.Offset
		}
		if c, ok := committed.Lookup(e.Topic, e.Partition); ok && c.Err == nil {
			pl.Committed = c.At
			from = c.At
		}
		pl.Lag = max(e.Offset-from, 0)
		out.Partitions = append(out.Partitions, pl)
	})
	sort.Slice(out.Partitions, func(i, j int) bool {
		a, b := out.Partitions[i], out.Partitions[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		return a.Partition < b.Partition
	})
	return out, nil
}

// retryWhileGroupBusy retries fn for a few seconds while the broker still
// counts members in the sink's group: a just-stopped task's LeaveGroup may
// not have reached the coordinator yet.
func retryWhileGroupBusy(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	wait := backoff.New(backoff.Policy{Initial: 50 * time.Millisecond, Max: time.Second})
	for {
		err := fn()
		if !errors.Is(err, kerr.NonEmptyGroup) && !errors.Is(err, kerr.UnknownMemberID) && !errors.Is(err, kerr.RebalanceInProgress) &&
			!errors.Is(err, kerr.CoordinatorLoadInProgress) && !errors.Is(err, kerr.NotCoordinator) && !errors.Is(err, kerr.IllegalGeneration) {
			return err
		}
		if time.Now().After(deadline) {
			return err
		}
		if !backoff.Sleep(ctx, wait.Next()) {
			return err
		}
	}
}
