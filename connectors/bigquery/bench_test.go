package bigquery

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/testbed"
)

// BenchmarkPut writes 100,000 order records into the emulator, in Puts of
// 500 (max.poll.records=500) and of 5,000 (a whole fetch, the default when
// max.poll.records is unset), through insertAll and the Storage Write
// API's _default stream. It measures the connector's batching and
// encoding; the emulator (Python and DuckDB) is the slower side.
func BenchmarkPut(b *testing.B) {
	e := testbed.BigQuery(b)
	schema := connect.StructBuilder().
		Field("id", connect.Int64Schema).
		Field("customer_id", connect.Int64Schema).
		Field("amount", connect.DecimalSchema(2).MustBuild()).
		Field("status", connect.StringSchema).
		Field("updated_at", connect.TimestampSchema().MustBuild()).
		MustBuild()
	const n = 100_000
	ts := time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		storage bool
		perPut  int
	}{{false, 500}, {false, 5000}, {true, 500}, {true, 5000}} {
		storage, perPut := c.storage, c.perPut
		if storage && e.GRPC == "" {
			continue
		}
		b.Run(fmt.Sprintf("storageWriteApi=%v/put=%d", storage, perPut), func(b *testing.B) {
			for i := range b.N {
				cfg := baseConfig(e)
				cfg[DecimalHandlingMode] = "NUMERIC"
				if storage {
					cfg[UseStorageWriteAPI] = "true"
					cfg[StorageEndpoint] = "http://" + e.GRPC
				}
				task := &Task{}
				if err := task.Start(context.Background(), &taskCtx{}, cfg); err != nil {
					b.Fatal(err)
				}
				topic := fmt.Sprintf("bench.s%v.p%d.%d", storage, perPut, i)
				batch := make([]*connect.SinkRecord, 0, perPut)
				start := time.Now()
				for off := range int64(n) {
					v := connect.NewStruct(schema).MustPut("id", off).MustPut("customer_id", off%500).
						MustPut("amount", connect.NewDecimal(64999+off%100, 2)).MustPut("status", "CREATED").MustPut("updated_at", ts)
					batch = append(batch, rec(topic, off, nil, v, nil, schema))
					if len(batch) == perPut {
						if err := task.Put(context.Background(), batch); err != nil {
							b.Fatal(err)
						}
						batch = batch[:0]
					}
				}
				b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
				_ = task.Stop()
			}
		})
	}
}
