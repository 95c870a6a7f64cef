package kafkalog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// The expected values come from org.apache.kafka.common.utils.Utils.murmur2
// and toPositive(murmur2) % n of kafka-clients 4.1.1.
func TestMurmur2MatchesJava(t *testing.T) {
	cases := []struct {
		key     string
		hash    int32
		p25, p5 int
	}{
		{"", 275646681, 6, 1},
		{"21", -973932308, 15, 0},
		{"foobar", -790332482, 16, 1},
		{"a-little-bit-long-string", -985981536, 12, 2},
		{"a-little-bit-longer-string", -1486304829, 19, 4},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971, 2, 2},
		{"abc", 479470107, 7, 2},
		{"status-connector-local-file-sink", 1380230842, 17, 2},
		{"status-task-local-file-sink-0", -1133111398, 0, 0},
		{`["local-file-source",{"filename":"/tmp/in.txt"}]`, -2098980141, 7, 2},
		{"status-topic-connect-test:connector-local-file-sink", -1749355642, 6, 1},
		{"héllo", 614509002, 2, 2},
	}
	for _, c := range cases {
		if got := int32(Murmur2([]byte(c.key))); got != c.hash {
			t.Errorf("murmur2(%q) = %d, want %d", c.key, got, c.hash)
		}
		if got := Partition([]byte(c.key), 25); got != c.p25 {
			t.Errorf("partition(%q, 25) = %d, want %d", c.key, got, c.p25)
		}
		if got := Partition([]byte(c.key), 5); got != c.p5 {
			t.Errorf("partition(%q, 5) = %d, want %d", c.key, got, c.p5)
		}
		// The producer's partitioner must agree with Partition.
		tp := kgo.StickyKeyPartitioner(kgo.KafkaHasher(Murmur2)).ForTopic("t")
		if got := tp.Partition(&kgo.Record{Key: []byte(c.key)}, 25); got != c.p25 {
			t.Errorf("kgo partitioner(%q, 25) = %d, want %d", c.key, got, c.p25)
		}
	}
}

type collected struct {
	mu   sync.Mutex
	recs []*kgo.Record
}

func (c *collected) add(r *kgo.Record) {
	c.mu.Lock()
	c.recs = append(c.recs, r)
	c.mu.Unlock()
}

func (c *collected) values() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.recs {
		out = append(out, string(r.Key)+"="+string(r.Value))
	}
	return out
}

func startLog(t *testing.T, bootstrap, topic string, spec *TopicSpec, c *collected) *Log {
	t.Helper()
	l, err := New(Config{Topic: topic, Brokers: strings.Split(bootstrap, ","), ClientID: "test-log", Ensure: spec, Consume: c.add, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	return l
}

func TestLogRoundTrip(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "log")
	spec := &TopicSpec{Property: "offset.storage.topic", Purpose: PurposeOffsets, Partitions: 5, ReplicationFactor: 1}
	var a, b collected
	la := startLog(t, bootstrap, topic, spec, &a)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var msgs []Message
	for i := range 20 {
		msgs = append(msgs, Message{Key: fmt.Appendf(nil, "k%d", i%7), Value: fmt.Appendf(nil, "v%d", i)})
	}
	rs, err := la.SendBatch(ctx, msgs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if want := int32(Partition(r.Key, 5)); r.Partition != want {
			t.Errorf("key %s went to partition %d, want %d", r.Key, r.Partition, want)
		}
	}
	if err := la.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(a.values()); got != 20 {
		t.Fatalf("writer saw %d records after ReadToEnd, want 20", got)
	}
	// A second log on the same topic (the topic exists now) reads it all
	// from the beginning, in order per key.
	startLog(t, bootstrap, topic, spec, &b)
	last := map[string]string{}
	for _, kv := range b.values() {
		k, v, _ := strings.Cut(kv, "=")
		last[k] = v
	}
	if len(b.values()) != 20 || last["k0"] != "v14" || last["k6"] != "v13" {
		t.Fatalf("reader saw %v", b.values())
	}
	r, err := la.Send(ctx, []byte("k0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := la.WaitFor(ctx, r.Partition, r.Offset); err != nil {
		t.Fatal(err)
	}
	vs := a.values()
	if vs[len(vs)-1] != "k0=" {
		t.Fatalf("tombstone not delivered last: %v", vs[len(vs)-1])
	}
}

func TestEnsureTopicRefusesNonCompacted(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "offsets")
	del := "delete"
	testbed.CreateTopicWithConfigs(t, bootstrap, topic, 1, map[string]*string{"cleanup.policy": &del})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := EnsureTopic(ctx, testbed.Admin(t, bootstrap), TopicSpec{Name: topic, Property: "offset.storage.topic", Purpose: PurposeOffsets, Partitions: 25}, quiet)
	want := "Topic '" + topic + "' supplied via the 'offset.storage.topic' property is required to have 'cleanup.policy=compact' to guarantee consistency and durability of source connector offsets, but found the topic currently has 'cleanup.policy=delete'. Continuing would likely result in eventually losing source connector offsets and problems restarting this Connect cluster in the future. Change the 'offset.storage.topic' property in the Connect worker configurations to use a topic with 'cleanup.policy=compact'."
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

func TestEnsureTopicConfigTopicSinglePartition(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "configs")
	compact := "compact"
	testbed.CreateTopicWithConfigs(t, bootstrap, topic, 3, map[string]*string{"cleanup.policy": &compact})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := EnsureTopic(ctx, testbed.Admin(t, bootstrap), TopicSpec{Name: topic, Property: "config.storage.topic", Purpose: PurposeConfigs, SinglePartition: true}, quiet)
	want := "Topic '" + topic + "' supplied via the 'config.storage.topic' property is required to have a single partition in order to guarantee consistency of connector configurations, but found 3 partitions."
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

func TestEnsureTopicCreatesCompacted(t *testing.T) {
	bootstrap := testbed.Kafka(t)
	topic := testbed.UniqueName(t, "status")
	adm := testbed.Admin(t, bootstrap)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	spec := TopicSpec{Name: topic, Property: "status.storage.topic", Purpose: PurposeStatuses, Partitions: 5, ReplicationFactor: 1,
		Configs: map[string]string{"cleanup.policy": "delete", "min.compaction.lag.ms": "100"}}
	if err := EnsureTopic(ctx, adm, spec, quiet); err != nil {
		t.Fatal(err)
	}
	// Existing and compacted: accepted.
	if err := EnsureTopic(ctx, adm, spec, quiet); err != nil {
		t.Fatal(err)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On(topic, nil)
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && (c.Value == nil || *c.Value != "compact") {
			t.Fatalf("cleanup.policy = %v", c.Value)
		}
	}
	// A new topic's partitions reach every broker's metadata shortly
	// after the create returns.
	deadline := time.Now().Add(10 * time.Second)
	for {
		topics, err := adm.ListTopics(ctx, topic)
		if err == nil && len(topics[topic].Partitions) == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partitions %v %v", topics[topic].Partitions, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
