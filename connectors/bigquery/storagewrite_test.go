package bigquery

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/testbed"
)

// TestStorageWriteAPI writes through the _default stream and, in batch
// mode, through PENDING streams whose offsets are committable only after
// the stream was committed.
func TestStorageWriteAPI(t *testing.T) {
	e := testbed.BigQuery(t)
	if e.GRPC == "" {
		t.Skip(testbed.EnvBigQueryGRPC + " not set")
	}
	c := client(t, e)
	schema := connect.StructBuilder().
		Field("id", connect.Int64Schema).
		Field("amount", connect.DecimalSchema(2).MustBuild()).
		Field("updated_at", connect.TimestampSchema().MustBuild()).
		Field("day", connect.DateSchema().MustBuild()).
		Field("note", connect.OptionalStringSchema).
		Field("tags", connect.ArrayOf(connect.StringSchema).Optional().MustBuild()).
		MustBuild()
	ts := time.Date(2024, 1, 15, 10, 30, 0, 123_000_000, time.UTC)
	mk := func(topic string, off int64) *connect.SinkRecord {
		d, _ := connect.ParseDecimal(fmt.Sprintf("%d.99", off))
		v := connect.NewStruct(schema).MustPut("id", off).MustPut("amount", d).MustPut("updated_at", ts).
			MustPut("day", time.Date(2024, 1, 15, 0, 0, 0, 0, time.UTC)).MustPut("note", "ü").MustPut("tags", []any{"a"})
		return rec(topic, off, nil, v, nil, schema)
	}
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("enableBatchMode=%v", batch), func(t *testing.T) {
			cfg := baseConfig(e)
			cfg[UseStorageWriteAPI] = "true"
			cfg[StorageEndpoint] = "http://" + e.GRPC
			cfg[DecimalHandlingMode] = "NUMERIC"
			cfg[EnableBatchMode] = fmt.Sprint(batch)
			cfg[CommitInterval] = "15"
			tc := &taskCtx{}
			task := startTask(t, cfg, tc)
			topic := fmt.Sprintf("sw.batch%v", batch)
			n := int64(1200)
			if batch {
				// One AppendRows request per PENDING stream: the emulator
				// loses the stream of a connection when a later request
				// omits its name, as the Go client's requests after the
				// first do (the _default stream is multiplexed, which names
				// it every time).
				n = 400
			}
			var recs []*connect.SinkRecord
			for i := range n {
				recs = append(recs, mk(topic, i))
			}
			if err := task.Put(context.Background(), recs); err != nil {
				t.Fatalf("put: %v", err)
			}
			tp := connect.TopicPartition{Topic: topic, Partition: 0}
			got, err := task.PreCommit(context.Background(), map[connect.TopicPartition]int64{tp: n})
			if err != nil {
				t.Fatal(err)
			}
			if !batch && got[tp] != n {
				t.Fatalf("precommit = %v, want %d", got, n)
			}
			if batch {
				if len(got) != 0 {
					t.Fatalf("precommit before the stream commit = %v, want nothing", got)
				}
				// Force the commit instead of waiting commitInterval.
				if err := task.storage.commitDue(context.Background(), true); err != nil {
					t.Fatalf("commit: %v", err)
				}
				if got, _ := task.PreCommit(context.Background(), map[connect.TopicPartition]int64{tp: n}); got[tp] != n {
					t.Fatalf("precommit after the stream commit = %v, want %d", got, n)
				}
			}
			table := sanitizeTable(topic)
			rows := query(t, c, fmt.Sprintf("SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d, MIN(updated_at) AS ts, MIN(day) AS day FROM `%s.%s.%s`", e.Project, e.Dataset, table))
			if rows[0]["n"] != n || rows[0]["d"] != n {
				t.Fatalf("rows = %v, want %d distinct", rows, n)
			}
			if u, _ := rows[0]["ts"].(time.Time); !u.Equal(ts) {
				t.Errorf("updated_at = %v, want %v", rows[0]["ts"], ts)
			}
			one := query(t, c, fmt.Sprintf("SELECT amount, note, tags FROM `%s.%s.%s` WHERE id = 7", e.Project, e.Dataset, table))
			if ratString(one[0]["amount"]) != "7.99" || one[0]["note"] != "ü" {
				t.Errorf("row 7 = %v", one[0])
			}
		})
	}
}

// TestStorageWriteSchemaChange: after a new column is added the stream is
// reopened with the new schema, so rows with the new field keep flowing
// (the Aiven connector's writes kept failing until a restart, its #173).
func TestStorageWriteSchemaChange(t *testing.T) {
	e := testbed.BigQuery(t)
	if e.GRPC == "" {
		t.Skip(testbed.EnvBigQueryGRPC + " not set")
	}
	c := client(t, e)
	cfg := baseConfig(e)
	cfg[UseStorageWriteAPI] = "true"
	cfg[StorageEndpoint] = "http://" + e.GRPC
	cfg[AllowNewFields] = "true"
	task := startTask(t, cfg, &taskCtx{})
	v1 := connect.StructBuilder().Field("id", connect.Int64Schema).MustBuild()
	v2 := connect.StructBuilder().Field("id", connect.Int64Schema).Field("coupon", connect.OptionalStringSchema).MustBuild()
	if err := task.Put(context.Background(), []*connect.SinkRecord{rec("evolve", 0, nil, connect.NewStruct(v1).MustPut("id", int64(1)), nil, v1)}); err != nil {
		t.Fatal(err)
	}
	if err := task.Put(context.Background(), []*connect.SinkRecord{rec("evolve", 1, nil, connect.NewStruct(v2).MustPut("id", int64(2)).MustPut("coupon", "XMAS"), nil, v2)}); err != nil {
		t.Fatalf("put with a new field: %v", err)
	}
	rows := query(t, c, fmt.Sprintf("SELECT id, coupon FROM `%s.%s.evolve` ORDER BY id", e.Project, e.Dataset))
	if len(rows) != 2 || rows[0]["coupon"] != nil || rows[1]["coupon"] != "XMAS" {
		t.Errorf("rows = %v", rows)
	}
}
