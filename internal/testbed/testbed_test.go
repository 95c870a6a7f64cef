package testbed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestUniqueName(t *testing.T) {
	legal := regexp.MustCompile(`^[a-zA-Z0-9-]+$`)
	seen := map[string]bool{}
	for range 100 {
		n := UniqueName(t, "ferry.topic_")
		if !legal.MatchString(n) {
			t.Fatalf("illegal topic name %q", n)
		}
		if !strings.HasPrefix(n, "ferry-topic-TestUniqueName-") {
			t.Fatalf("name %q lacks prefix and test name", n)
		}
		if seen[n] {
			t.Fatalf("duplicate name %q", n)
		}
		seen[n] = true
	}
	t.Run("sub/test name", func(t *testing.T) {
		n := UniqueName(t, "")
		if !legal.MatchString(n) || !strings.HasPrefix(n, "TestUniqueName-sub-test-name-") {
			t.Fatalf("bad subtest name %q", n)
		}
	})
}

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Fatalf("port %d not bindable: %v", p, err)
	}
	l.Close()
}

func TestWaitFor(t *testing.T) {
	calls := 0
	WaitFor(t, 10*time.Second, time.Millisecond, func() (bool, string) {
		calls++
		return calls == 3, fmt.Sprintf("calls=%d", calls)
	})
	if calls != 3 {
		t.Fatalf("cond called %d times, want 3", calls)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	addr := Kafka(t)
	topic := UniqueName(t, "tb")
	CreateTopic(t, addr, topic, 3)

	var recs []*kgo.Record
	for i := range 30 {
		recs = append(recs, &kgo.Record{
			Key:     []byte("k" + strconv.Itoa(i%5)),
			Value:   []byte(strconv.Itoa(i)),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}},
		})
	}
	Produce(t, addr, topic, recs...)

	got := ConsumeN(t, addr, topic, len(recs), 30*time.Second)
	lastPerKey := map[string]int{}
	partOfKey := map[string]int32{}
	for _, r := range got {
		if r.Topic != topic {
			t.Fatalf("record from topic %q", r.Topic)
		}
		if len(r.Headers) != 1 || r.Headers[0].Key != "h" || string(r.Headers[0].Value) != "v" {
			t.Fatalf("headers not kept: %+v", r.Headers)
		}
		k := string(r.Key)
		v, _ := strconv.Atoi(string(r.Value))
		// Same key, same partition, produce order kept.
		if p, ok := partOfKey[k]; ok && p != r.Partition {
			t.Fatalf("key %s in partitions %d and %d", k, p, r.Partition)
		}
		partOfKey[k] = r.Partition
		if last, ok := lastPerKey[k]; ok && v < last {
			t.Fatalf("key %s out of order: %d after %d", k, v, last)
		}
		lastPerKey[k] = v
	}
}

func TestAutoCreatedTopic(t *testing.T) {
	t.Parallel()
	addr := Kafka(t)
	topic := UniqueName(t, "tb-auto")
	Produce(t, addr, topic, &kgo.Record{Value: []byte("hello")})
	got := ConsumeN(t, addr, topic, 1, 30*time.Second)
	if string(got[0].Value) != "hello" {
		t.Fatalf("value %q", got[0].Value)
	}
	md, err := Admin(t, addr).ListTopics(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(md[topic].Partitions); n != 1 {
		t.Fatalf("auto-created topic has %d partitions, want 1", n)
	}
}

// TestKcat checks the independent client against the broker: metadata, a produce with
// kcat read back by franz-go, and the reverse.
func TestKcat(t *testing.T) {
	t.Parallel()
	if !IsRealKafka() {
		t.Skip("kcat checks run against the real broker (FERRY_TEST_KAFKA)")
	}
	kcat := Kcat(t)
	addr := Kafka(t)
	topic := UniqueName(t, "tb-kcat")
	CreateTopic(t, addr, topic, 2)

	out, err := exec.Command(kcat, "-L", "-J", "-b", addr, "-t", topic).Output()
	if err != nil {
		t.Fatalf("kcat -L: %v", err)
	}
	var md struct {
		Topics []struct {
			Topic      string `json:"topic"`
			Partitions []struct {
				Partition int `json:"partition"`
			} `json:"partitions"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(out, &md); err != nil {
		t.Fatalf("kcat -L -J output %q: %v", out, err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Topic != topic || len(md.Topics[0].Partitions) != 2 {
		t.Fatalf("kcat metadata: %s", out)
	}

	produce := exec.Command(kcat, "-P", "-b", addr, "-t", topic, "-p", "1", "-K", "|", "-H", "src=kcat")
	produce.Stdin = strings.NewReader("a|{\"id\":1}\nb|{\"id\":2}\n")
	if out, err := produce.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v: %s", err, out)
	}
	got := ConsumeN(t, addr, topic, 2, 30*time.Second)
	for i, want := range []string{`{"id":1}`, `{"id":2}`} {
		r := got[i]
		if string(r.Value) != want || r.Partition != 1 || len(r.Headers) != 1 || r.Headers[0].Key != "src" {
			t.Fatalf("record %d from kcat: partition %d key %q value %q headers %+v", i, r.Partition, r.Key, r.Value, r.Headers)
		}
	}

	Produce(t, addr, topic, &kgo.Record{Key: []byte("c"), Value: []byte("from-go"), Partition: 0})
	consume := exec.Command(kcat, "-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k=%s\n")
	out, err = consume.Output()
	if err != nil {
		t.Fatalf("kcat -C: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 || !bytes.Contains(out, []byte("c=from-go\n")) {
		t.Fatalf("kcat read %q", out)
	}
}
