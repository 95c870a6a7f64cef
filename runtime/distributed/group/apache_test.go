package group

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestApacheWorkerSharesGroup runs Apache Kafka Connect 4.1.1 in distributed
// mode and a Ferry Member in the same group, once with the Apache worker as
// leader (Ferry decodes its assignment) and once with Ferry as leader (Apache
// decodes Ferry's). The cluster has no connectors; the config offset both sides
// report is the config topic's end offset. It needs a real broker
// (FERRY_TEST_KAFKA) and the Connect jars (scripts/testbed.sh install).
func TestApacheWorkerSharesGroup(t *testing.T) {
	if !testbed.IsRealKafka() {
		t.Skip("needs a real broker (FERRY_TEST_KAFKA)")
	}
	if testing.Short() {
		t.Skip("starts a JVM")
	}
	cache := os.Getenv("FERRY_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "ferry")
	}
	if _, err := os.Stat(filepath.Join(cache, "connect-4.1.1", "lib")); err != nil {
		t.Skip("Apache Connect jars not installed (scripts/testbed.sh install)")
	}
	script, err := filepath.Abs("../../../scripts/testbed.sh")
	if err != nil {
		t.Fatal(err)
	}

	bootstrap := testbed.Kafka(t)
	adm := testbed.Admin(t, bootstrap)
	dir := t.TempDir()
	group := testbed.UniqueName(t, "interop")
	configTopic := group + "-configs"
	port := testbed.FreePort(t)
	apacheURL := fmt.Sprintf("http://127.0.0.1:%d/", port)
	props := filepath.Join(dir, "worker.properties")
	if err := os.WriteFile(props, []byte(strings.Join([]string{
		"bootstrap.servers=" + bootstrap,
		"group.id=" + group,
		"config.storage.topic=" + configTopic,
		"offset.storage.topic=" + group + "-offsets",
		"status.storage.topic=" + group + "-status",
		"config.storage.replication.factor=1",
		"offset.storage.replication.factor=1",
		"offset.storage.partitions=1",
		"status.storage.replication.factor=1",
		"status.storage.partitions=1",
		"key.converter=org.apache.kafka.connect.storage.StringConverter",
		"value.converter=org.apache.kafka.connect.storage.StringConverter",
		"plugin.discovery=service_load",
		"session.timeout.ms=6000",
		"heartbeat.interval.ms=1000",
		"scheduled.rebalance.max.delay.ms=0",
		fmt.Sprintf("listeners=http://127.0.0.1:%d", port),
		"rest.advertised.host.name=127.0.0.1",
		fmt.Sprintf("rest.advertised.port=%d", port),
		"",
	}, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	connectDir := filepath.Join(dir, "connect")
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(script, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("testbed.sh %v: %v\n%s", args, err, out)
		}
	}
	var running bool
	var runMu sync.Mutex
	startApache := func() {
		run("start-connect", "--properties", props, "--distributed", "--dir", connectDir)
		runMu.Lock()
		running = true
		runMu.Unlock()
	}
	stopApache := func() {
		runMu.Lock()
		defer runMu.Unlock()
		if running {
			run("stop-connect", "--dir", connectDir)
			running = false
		}
	}
	t.Cleanup(stopApache)

	// The Ferry side's config snapshot: no connectors, at the topic's end.
	snapshot := func() Snapshot {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ends, err := adm.ListEndOffsets(ctx, configTopic)
		if err != nil {
			return Snapshot{Offset: -1}
		}
		o, ok := ends.Lookup(configTopic, 0)
		if !ok || o.Err != nil || o.Offset == 0 {
			return Snapshot{Offset: -1}
		}
		return Snapshot{Offset: o.Offset}
	}
	describe := func() (kadm.DescribedGroup, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		gs, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return kadm.DescribedGroup{}, err
		}
		return gs[group], gs.Error()
	}
	var ferry *worker
	// stableTogether waits until the group is stable with both workers and the
	// Ferry member completed that generation, then checks it stays so.
	stableTogether := func(wantFerryLeader bool) {
		t.Helper()
		var gen int32
		waitFor(t, 90*time.Second, func() string {
			g, err := describe()
			if err != nil {
				return err.Error()
			}
			if g.State != "Stable" || len(g.Members) != 2 || g.Protocol != ProtocolSessioned || g.ProtocolType != ProtocolType {
				return fmt.Sprintf("group %s with %d members, protocol %q/%q", g.State, len(g.Members), g.ProtocolType, g.Protocol)
			}
			return ""
		})
		waitFor(t, 60*time.Second, func() string {
			_, last := ferry.herder.snapshot()
			if last.Error != NoError || last.Protocol != ProtocolSessioned || last.Version != V2 {
				return fmt.Sprintf("ferry's last assignment: %+v", last)
			}
			if last.IsLeader != wantFerryLeader {
				return fmt.Sprintf("ferry leader=%v, want %v", last.IsLeader, wantFerryLeader)
			}
			if !wantFerryLeader && last.LeaderURL != apacheURL {
				return fmt.Sprintf("leader URL %q, want %q", last.LeaderURL, apacheURL)
			}
			gen = ferry.member.Generation()
			return ""
		})
		// No further rebalances: neither side rejected the other's bytes.
		time.Sleep(4 * time.Second)
		if g := ferry.member.Generation(); g != gen {
			t.Fatalf("generation moved from %d to %d: the group keeps rebalancing", gen, g)
		}
		if g, err := describe(); err != nil || g.State != "Stable" || len(g.Members) != 2 {
			t.Fatalf("group after settling: %+v, %v", g, err)
		}
	}

	// Apache leads: it joined first.
	startApache()
	ferry = startWorkerWith(t, bootstrap, group, "ferry", ModeSessioned, snapshot, 0)
	stableTogether(false)

	// Ferry leads: the Apache worker leaves, Ferry stays as the only (leading)
	// member, and the Apache worker joins again.
	stopApache()
	waitFor(t, 60*time.Second, func() string {
		_, last := ferry.herder.snapshot()
		if !last.IsLeader {
			return "ferry has not taken over as leader"
		}
		return ""
	})
	startApache()
	stableTogether(true)

	out, err := os.ReadFile(filepath.Join(connectDir, "connect.out"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), " ERROR ") {
		t.Fatalf("Apache worker logged errors:\n%s", out)
	}
}
