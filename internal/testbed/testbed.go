// Package testbed is the real-service harness for Ferry's tests.
//
// Tests that need Kafka call [Kafka] for a bootstrap address. When the environment
// variable FERRY_TEST_KAFKA is set (scripts/test.sh starts a real Apache Kafka broker and
// sets it), that broker is used; otherwise each call gets its own in-process franz-go
// kfake cluster, closed when the test ends. A real broker is shared by every test package
// running in parallel, so tests must name their topics, groups and connectors with
// [UniqueName].
//
// The helpers fail the calling test on error and must run on the test's goroutine.
package testbed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnvKafka names the environment variable holding a real broker's bootstrap address.
const EnvKafka = "FERRY_TEST_KAFKA"

// opTimeout bounds single client operations (produce, admin requests) in the helpers.
const opTimeout = 30 * time.Second

// IsRealKafka reports whether tests run against a real broker (FERRY_TEST_KAFKA is set).
func IsRealKafka() bool { return os.Getenv(EnvKafka) != "" }

// Kafka returns a bootstrap address for the test: the real broker from FERRY_TEST_KAFKA
// when set, else a fresh single-broker kfake cluster (auto topic creation on, one
// partition by default) that is closed when the test ends.
func Kafka(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv(EnvKafka); addr != "" {
		return addr
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(1),
	)
	if err != nil {
		t.Fatalf("testbed: start kfake cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

// UniqueName returns a name for a topic, group or connector that no other test uses:
// prefix, the test's name and a random suffix, limited to characters that are legal in
// Kafka topic names ([a-zA-Z0-9-], everything else becomes '-').
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testbed: random suffix: %v", err)
	}
	name := sanitize(t.Name())
	// Topic names are limited to 249 characters; leave room for prefix and suffix.
	if len(name) > 180 {
		name = name[:180]
	}
	parts := []string{name, hex.EncodeToString(b[:])}
	if p := sanitize(prefix); p != "" {
		parts = append([]string{p}, parts...)
	}
	return strings.Join(parts, "-")
}

func sanitize(s string) string {
	out := []byte(s)
	for i, c := range out {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
		default:
			out[i] = '-'
		}
	}
	return strings.Trim(string(out), "-")
}

// Client returns a franz-go client for bootstrap, closed when the test ends.
func Client(t testing.TB, bootstrap string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(strings.Split(bootstrap, ",")...)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("testbed: new kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns an admin client for bootstrap, closed when the test ends.
func Admin(t testing.TB, bootstrap string) *kadm.Client {
	t.Helper()
	return kadm.NewClient(Client(t, bootstrap))
}

// CreateTopic creates topic with the given partition count (replication factor 1) and
// waits until every partition has a leader, so producing right after does not race the
// broker's metadata update.
func CreateTopic(t testing.TB, bootstrap, topic string, partitions int32) {
	t.Helper()
	CreateTopicWithConfigs(t, bootstrap, topic, partitions, nil)
}

// CreateTopicWithConfigs is [CreateTopic] with topic configs such as
// cleanup.policy=compact.
func CreateTopicWithConfigs(t testing.TB, bootstrap, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	adm := Admin(t, bootstrap)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("testbed: create topic %q: %v", topic, err)
	}
	WaitFor(t, opTimeout, 50*time.Millisecond, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return false, fmt.Sprintf("metadata: %v", err)
		}
		td, ok := md.Topics[topic]
		if !ok || td.Err != nil {
			return false, fmt.Sprintf("topic %q not in metadata yet (err %v)", topic, td.Err)
		}
		if len(td.Partitions) != int(partitions) {
			return false, fmt.Sprintf("topic %q has %d of %d partitions", topic, len(td.Partitions), partitions)
		}
		for _, p := range td.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return false, fmt.Sprintf("partition %d has no leader yet (err %v)", p.Partition, p.Err)
			}
		}
		return true, ""
	})
}

// Produce writes records synchronously; a record without a Topic goes to topic.
// Partitions are picked by franz-go's default partitioner (Java-compatible murmur2 for
// keyed records). Producing to a missing topic auto-creates it.
func Produce(t testing.TB, bootstrap, topic string, records ...*kgo.Record) {
	t.Helper()
	cl := Client(t, bootstrap, kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("testbed: produce to %q: %v", topic, err)
	}
}

// ConsumeN reads topic from the beginning of every partition, without a consumer group,
// until n records arrived, and returns the first n. It fails the test when fewer arrive
// within timeout. Records of one partition keep their order; across partitions the order
// is whatever the fetches returned.
func ConsumeN(t testing.TB, bootstrap, topic string, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl := Client(t, bootstrap,
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Partitions whose start offsets arrive late join only after the fetch in
		// flight returns; a short max wait keeps that from costing the 5 s default.
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var got []*kgo.Record
	for len(got) < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		var fetchErr error
		fetches.EachError(func(topic string, partition int32, err error) {
			// Missing topics and leader moves are retried by the client; anything
			// else is worth failing on.
			if !errors.Is(err, context.DeadlineExceeded) && !kgoRetriable(err) {
				fetchErr = fmt.Errorf("%s[%d]: %w", topic, partition, err)
			}
		})
		if fetchErr != nil {
			t.Fatalf("testbed: consume %q: %v", topic, fetchErr)
		}
		got = append(got, fetches.Records()...)
	}
	if len(got) < n {
		t.Fatalf("testbed: consume %q: got %d of %d records within %v", topic, len(got), n, timeout)
	}
	return got[:n]
}

func kgoRetriable(err error) bool {
	var re interface{ Retriable() bool }
	return errors.As(err, &re) && re.Retriable()
}

// Kcat returns the path of the kcat binary. Without kcat the test is skipped, except in
// CI (CI=true), where the test bed must be complete and the test fails instead.
func Kcat(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("testbed: kcat not found in CI (scripts/testbed.sh install provides it): %v", err)
	}
	t.Skipf("testbed: kcat not installed (apt-get install kcat): %v", err)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. Another process
// may take it before the caller binds it; listen on port 0 directly where possible.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testbed: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitFor calls cond until it reports true, sleeping interval between calls, and fails
// the test with cond's last message when timeout passes first.
func WaitFor(t testing.TB, timeout, interval time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testbed: condition not met within %v: %s", timeout, msg)
		}
		time.Sleep(interval)
	}
}
