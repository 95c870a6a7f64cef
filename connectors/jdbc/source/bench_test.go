package source

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// benchRows is the table size of the read benchmarks.
const benchRows = 1_000_000

// BenchmarkRead reads a benchRows-row orders table through Poll in bulk
// and incrementing mode (no Kafka: this is the source side alone) and
// reports rows/s and the peak heap seen between polls.
//
//	go test ./connectors/jdbc/source -run - -bench Read -benchtime 1x
func BenchmarkRead(b *testing.B) {
	fill := map[string]string{
		"sqlite": `INSERT INTO orders (id, customer_id, amount, status, updated_at)
			WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 1000000)
			SELECT n, n % 1000, 123.45, 'CREATED', '2024-01-15 09:50:00' FROM s`,
		"mysql": `INSERT INTO orders (id, customer_id, amount, status, updated_at)
			SELECT seq, seq % 1000, 123.45, 'CREATED', '2024-01-15 09:50:00' FROM seq_1_to_1000000`,
		"postgres": `INSERT INTO orders (id, customer_id, amount, status, updated_at)
			SELECT n, n % 1000, 123.45, 'CREATED', '2024-01-15 09:50:00' FROM generate_series(1, 1000000) n`,
	}
	dbs := []struct {
		name string
		mk   func(testing.TB) *testDB
	}{{"sqlite", sqliteDB}, {"mysql", mysqlDB}, {"postgres", postgresDB}}
	for _, db := range dbs {
		b.Run(db.name, func(b *testing.B) {
			d := db.mk(b)
			d.createOrders(b, "orders")
			d.exec(b, fill[d.kind])
			for _, mode := range []string{ModeBulk, ModeIncrementing} {
				b.Run(mode, func(b *testing.B) {
					cfg := baseConfig(d, mode)
					cfg[IncrementingColumn] = "id"
					cfg[PollInterval] = "3600000"
					var peak uint64
					var ms runtime.MemStats
					start := time.Now()
					for range b.N {
						r := startTask(b, cfg, &memOffsets{})
						n := 0
						for i := 0; n < benchRows; i++ {
							recs, err := r.task.Poll(context.Background())
							if err != nil {
								b.Fatal(err)
							}
							n += len(recs)
							if i%100 == 0 {
								runtime.ReadMemStats(&ms)
								peak = max(peak, ms.HeapInuse)
							}
						}
						r.stop()
					}
					el := time.Since(start)
					b.ReportMetric(float64(benchRows*b.N)/el.Seconds(), "rows/s")
					b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
				})
			}
		})
	}
}
