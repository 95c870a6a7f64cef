package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/api/option"

	"github.com/ferryhq/ferry/internal/testbed"
)

// TestBigQueryEndpointOutage runs the BigQuery sink in a worker, stops its
// emulator (a private one that keeps its tables on disk) for a minute
// (5 s with -short) while records keep arriving, and starts it again: the
// task must stay RUNNING throughout, and every record must reach the
// table once the emulator is back.
func TestBigQueryEndpointOutage(t *testing.T) {
	outage := time.Minute
	if testing.Short() {
		outage = 5 * time.Second
	}
	em := testbed.PrivateBigQuery(t)
	e := testbed.BigQueryEmulator{REST: em.BigQueryREST(), Project: testbed.BigQueryProject, Dataset: "outage"}
	e.CreateDataset(t, e.Dataset)
	c, err := bq.NewClient(context.Background(), e.Project, option.WithEndpoint(e.REST+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	b := &bqEnv{e: e, c: c}

	w := startWorker(t, nil)
	topic := testbed.UniqueName(t, "bq-outage")
	testbed.CreateTopic(t, w.bootstrap, topic, 1)
	name := testbed.UniqueName(t, "bq-outage")
	cfg := b.sinkConfig(topic)
	cfg["bigQueryRetryWait"] = "500"
	createConnector(t, w, name, cfg)
	w.waitState(t, name, "RUNNING", 1)

	sent := 0
	produce := func(n int) {
		t.Helper()
		var recs []*kgo.Record
		for range n {
			recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, `{"id":%d}`, sent)})
			sent++
		}
		testbed.Produce(t, w.bootstrap, topic, recs...)
	}
	count := func() (int64, int64) {
		rows, err := b.rows(fmt.Sprintf("SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM %s", b.ref(bqTableName(topic))))
		if err != nil || len(rows) == 0 {
			return 0, 0
		}
		return rows[0]["n"].(int64), rows[0]["d"].(int64)
	}
	produce(50)
	testbed.WaitFor(t, 60*time.Second, 200*time.Millisecond, func() (bool, string) {
		_, d := count()
		return d == 50, fmt.Sprintf("%d of 50 rows before the outage", d)
	})

	if err := em.Stop(); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	for time.Since(stoppedAt) < outage {
		produce(10)
		w.waitState(t, name, "RUNNING", 1) // fails the test on FAILED
		time.Sleep(outage / 10)
	}
	if err := em.Start(); err != nil {
		t.Fatal(err)
	}
	backAt := time.Now()
	produce(50)
	var n, d int64
	testbed.WaitFor(t, 120*time.Second, 200*time.Millisecond, func() (bool, string) {
		n, d = count()
		return d == int64(sent), fmt.Sprintf("%d of %d rows after the outage", d, sent)
	})
	t.Logf("emulator down %v; all %d records in the table %v after it was back; %d duplicates",
		backAt.Sub(stoppedAt).Round(time.Second), sent, time.Since(backAt).Round(100*time.Millisecond), n-d)
	w.waitState(t, name, "RUNNING", 1)
}
