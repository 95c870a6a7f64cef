package sink

import (
	"fmt"
	"testing"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/testbed"
)

// benchPut measures the Put path (layout, binding, multi-row statements,
// one transaction per Put) in rows per second.
func benchPut(b *testing.B, jdbcURL string, mode string) {
	task := &Task{}
	config := map[string]string{"connection.url": jdbcURL, "auto.create": "true", "insert.mode": mode,
		"table.name.format": "bench_" + mode}
	if mode != "insert" {
		config["pk.mode"] = "record_key"
	} else {
		config["pk.mode"] = "kafka"
	}
	if err := task.Start(b.Context(), &taskCtx{}, config); err != nil {
		b.Fatal(err)
	}
	defer task.Stop()
	vs := connect.StructBuilder().Name("Row").
		Field("id", connect.Int64Schema).
		Field("name", connect.StringSchema).
		Field("score", connect.OptionalFloat64Schema).
		Field("qty", connect.Int32Schema).
		Field("note", connect.OptionalStringSchema).MustBuild()
	const perPut = 500
	recs := make([]*connect.SinkRecord, perPut)
	var off int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range recs {
			id := int64((i*perPut + j) % 100_000)
			off++
			recs[j] = &connect.SinkRecord{Record: connect.Record{Topic: "bench",
				KeySchema: keySchema, Key: connect.NewStruct(keySchema).MustPut("id", id),
				ValueSchema: vs, Value: connect.NewStruct(vs).MustPut("id", id).MustPut("name", fmt.Sprint("name-", id)).
						MustPut("score", float64(id)*0.5).MustPut("qty", int32(j)).MustPut("note", "some text")},
				KafkaOffset: off}
		}
		if err := task.Put(b.Context(), recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*perPut)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkPutSQLite(b *testing.B) {
	for _, mode := range []string{"upsert", "insert"} {
		b.Run(mode, func(b *testing.B) { benchPut(b, "jdbc:sqlite:"+testbed.SQLite(b), mode) })
	}
}

func BenchmarkPutMariaDB(b *testing.B) {
	for _, mode := range []string{"upsert", "insert"} {
		b.Run(mode, func(b *testing.B) { u, _ := mysqlURL(b); benchPut(b, u, mode) })
	}
}

func BenchmarkPutPostgres(b *testing.B) {
	for _, mode := range []string{"upsert", "insert"} {
		b.Run(mode, func(b *testing.B) { u, _ := postgresURL(b); benchPut(b, u, mode) })
	}
}
