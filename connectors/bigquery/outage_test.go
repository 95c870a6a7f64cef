package bigquery

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/testbed"
)

func TestIsUnavailable(t *testing.T) {
	refused := &url.Error{Op: "Post", URL: "http://127.0.0.1:1", Err: fmt.Errorf("dial: %w", syscall.ECONNREFUSED)}
	cases := []struct {
		err  error
		want bool
	}{
		{refused, true},
		{&retriableError{fmt.Errorf("insertAll failed after 1 attempts: %w", refused)}, true},
		{&googleapi.Error{Code: 503}, true},
		{&googleapi.Error{Code: 429}, true},
		{&googleapi.Error{Code: 403, Errors: []googleapi.ErrorItem{{Reason: "quotaExceeded"}}}, true},
		{&googleapi.Error{Code: 403, Errors: []googleapi.ErrorItem{{Reason: "accessDenied"}}}, false},
		{&googleapi.Error{Code: 404}, false},
		{&googleapi.Error{Code: 400}, false},
		{fmt.Errorf("appending: %w", status.Error(codes.Unavailable, "down")), true},
		{fmt.Errorf("appending: %w", status.Error(codes.InvalidArgument, "bad row")), false},
		{&retriableError{errors.New("appending rows to t: 3 rows refused with others")}, false},
		{context.Canceled, false},
	}
	for _, c := range cases {
		if got := isUnavailable(c.err); got != c.want {
			t.Errorf("isUnavailable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	var waits []time.Duration
	for n := 1; n <= 8; n++ {
		waits = append(waits, outageBackoff(time.Second, n))
	}
	if fmt.Sprint(waits) != "[1s 2s 4s 8s 10s 10s 10s 10s]" {
		t.Errorf("backoff %v", waits)
	}
	if got := outageBackoff(0, 1); got != 100*time.Millisecond {
		t.Errorf("backoff with no wait configured: %v", got)
	}
	if got := outageBackoff(time.Minute, 3); got != time.Minute {
		t.Errorf("backoff with a wait over 10 s: %v", got)
	}
}

// retryCtx records the retry timeout the task asks for, as the runtime
// does before redelivering a batch.
type retryCtx struct {
	taskCtx
	wait time.Duration
}

func (c *retryCtx) SetRetryTimeout(d time.Duration) { c.mu.Lock(); c.wait = d; c.mu.Unlock() }

// TestEndpointOutage stops the emulator in the middle of a stream for
// 20 s (5 s with -short), longer than max.retries × bigQueryRetryWait, and
// starts it again (e2e/TestBigQueryEndpointOutage does the same for a
// minute through a worker). The task is driven as the
// runtime drives it: a Retriable error from Put redelivers the same batch
// after the timeout the task set. The task must never fail, and every
// record must be in the table once the emulator is back.
func TestEndpointOutage(t *testing.T) {
	outage := 20 * time.Second
	if testing.Short() {
		outage = 5 * time.Second
	}
	em := testbed.PrivateBigQuery(t)
	e := testbed.BigQueryEmulator{REST: em.BigQueryREST(), Project: testbed.BigQueryProject, Dataset: "outage"}
	e.CreateDataset(t, e.Dataset)
	cfg := baseConfig(e)
	cfg[BigQueryRetry] = "0"
	cfg[BigQueryRetryWait] = "500"
	tc := &retryCtx{}
	task := startTask(t, cfg, tc)

	const batches, perBatch = 10, 20
	const topic = "outage"
	redeliveries := 0
	deliver := func(batch []*connect.SinkRecord) {
		t.Helper()
		for {
			err := task.Put(context.Background(), batch)
			if err == nil {
				return
			}
			if !connect.IsRetriable(err) {
				t.Fatalf("put failed for good after %d redeliveries: %v", redeliveries, err)
			}
			redeliveries++
			tc.mu.Lock()
			wait := tc.wait
			tc.mu.Unlock()
			time.Sleep(wait)
		}
	}
	var (
		wg      sync.WaitGroup
		backAt  time.Time
		restart error
	)
	for b := range batches {
		var batch []*connect.SinkRecord
		for i := range perBatch {
			off := int64(b*perBatch + i)
			batch = append(batch, rec(topic, off, nil, map[string]any{"id": off}, nil, nil))
		}
		if b == batches/2 {
			if err := em.Stop(); err != nil {
				t.Fatal(err)
			}
			stoppedAt := time.Now()
			wg.Go(func() {
				time.Sleep(outage - time.Since(stoppedAt))
				restart = em.Start()
				backAt = time.Now()
			})
			deliver(batch)
			wg.Wait()
			if restart != nil {
				t.Fatal(restart)
			}
			t.Logf("emulator down for %v; the batch went in %v after it was back, after %d redeliveries",
				backAt.Sub(stoppedAt).Round(time.Second), time.Since(backAt).Round(10*time.Millisecond), redeliveries)
			continue
		}
		deliver(batch)
	}
	c := client(t, e)
	rows := query(t, c, fmt.Sprintf("SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM `%s.%s.%s`", e.Project, e.Dataset, topic))
	n, d := rows[0]["n"].(int64), rows[0]["d"].(int64)
	t.Logf("%d records sent, %d rows in the table, %d distinct: %d lost, %d duplicates", batches*perBatch, n, d, batches*perBatch-int(d), n-d)
	if d != batches*perBatch {
		t.Fatalf("%d of %d records lost", batches*perBatch-int(d), batches*perBatch)
	}
}

// TestEndpointOutageUpsert: in upsert mode, writes to the intermediate
// table are redelivered and a merge that meets a stopped emulator waits
// for it, rather than failing the task; the final table holds the last
// value of every key.
func TestEndpointOutageUpsert(t *testing.T) {
	const outage = 5 * time.Second
	em := testbed.PrivateBigQuery(t)
	e := testbed.BigQueryEmulator{REST: em.BigQueryREST(), Project: testbed.BigQueryProject, Dataset: "outage"}
	e.CreateDataset(t, e.Dataset)
	cfg := baseConfig(e)
	cfg[BigQueryRetry] = "0"
	cfg[BigQueryRetryWait] = "500"
	cfg[UpsertEnabled] = "true"
	cfg[KafkaKeyFieldName] = "pk"
	cfg[MergeIntervalMs] = "-1"
	cfg[MergeRecordsThreshold] = "10"
	// The merge of the first batch waits this long: the emulator is
	// stopped meanwhile.
	cfg[MergeStreamingWaitMs] = "4000"
	tc := &retryCtx{}
	task := startTask(t, cfg, tc)

	keySchema := connect.StructBuilder().Field("id", connect.Int64Schema).MustBuild()
	valSchema := connect.StructBuilder().Field("id", connect.Int64Schema).Field("v", connect.Int64Schema).MustBuild()
	var off int64
	batch := func(v int64) []*connect.SinkRecord {
		var out []*connect.SinkRecord
		for id := int64(1); id <= 10; id++ {
			out = append(out, rec("keyed", off, connect.NewStruct(keySchema).MustPut("id", id),
				connect.NewStruct(valSchema).MustPut("id", id).MustPut("v", v), keySchema, valSchema))
			off++
		}
		return out
	}
	deliver := func(b []*connect.SinkRecord) {
		t.Helper()
		for {
			err := task.Put(context.Background(), b)
			if err == nil {
				return
			}
			if !connect.IsRetriable(err) {
				t.Fatalf("put failed for good: %v", err)
			}
			tc.mu.Lock()
			wait := tc.wait
			tc.mu.Unlock()
			time.Sleep(wait)
		}
	}
	deliver(batch(1)) // reaches the threshold: a merge starts in 4 s
	if err := em.Stop(); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	var (
		wg      sync.WaitGroup
		restart error
	)
	wg.Go(func() {
		time.Sleep(outage - time.Since(stoppedAt))
		restart = em.Start()
	})
	deliver(batch(2))
	wg.Wait()
	if restart != nil {
		t.Fatal(restart)
	}
	backAt := time.Now()
	deliver(batch(3))
	tp := connect.TopicPartition{Topic: "keyed", Partition: 0}
	waitCommittable(t, task, tp, off)
	t.Logf("emulator down for %v; every batch merged and committable %v after it was back",
		backAt.Sub(stoppedAt).Round(time.Second), time.Since(backAt).Round(10*time.Millisecond))
	c := client(t, e)
	rows := query(t, c, fmt.Sprintf("SELECT COUNT(*) AS n, COUNTIF(v = 3) AS latest FROM `%s.%s.keyed`", e.Project, e.Dataset))
	if rows[0]["n"] != int64(10) || rows[0]["latest"] != int64(10) {
		t.Fatalf("table after the outage: %v rows, %v with the last value; want 10 and 10", rows[0]["n"], rows[0]["latest"])
	}
}

// TestConnectorStartUnreachable: a connector started while BigQuery cannot
// be reached fails its start-up access check (after 30 s) with an error
// the runtime may retry; a dataset that does not exist is not retriable.
func TestConnectorStartUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 30 s")
	}
	t.Parallel()
	e := testbed.BigQuery(t)
	cfg := baseConfig(e)
	cfg[Endpoint] = fmt.Sprintf("http://127.0.0.1:%d", testbed.FreePort(t)) // nothing listens
	err := (&Connector{}).Start(context.Background(), nil, cfg)
	if err == nil || !connect.IsRetriable(err) {
		t.Fatalf("start with an unreachable endpoint: %v, want a retriable error", err)
	}
	cfg = baseConfig(e)
	cfg[DefaultDataset] = "no_such_dataset"
	err = (&Connector{}).Start(context.Background(), nil, cfg)
	if err == nil || connect.IsRetriable(err) {
		t.Fatalf("start with a missing dataset: %v, want an error that is not retriable", err)
	}
}
