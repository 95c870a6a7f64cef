package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// sourceValueSchema is the JsonConverter schema of a row of the source table, as a JDBC
// source writes it: a struct named after the table.
const sourceValueSchema = `{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},` +
	`{"type":"string","optional":false,"field":"name"},{"type":"double","optional":false,"field":"amount"},` +
	`{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"updated_at"}],` +
	`"optional":false,"name":"` + sourceTableName + `"}`

// runJDBCLimit is the JDBC source's job done by a plain Go program: one SELECT of the
// table through database/sql and go-sql-driver/mysql, each row appended by hand into
// JsonConverter's envelope and produced with franz-go (acks=all,
// idempotent, uncompressed, as a Connect worker's producer). It prints a limitResult
// as JSON on stdout: the rate from the first acknowledgement to the last, the process's
// peak RSS and its CPU time.
func runJDBCLimit(ctx context.Context, o options) error {
	db, err := sql.Open("mysql", o.mysql)
	if err != nil {
		return err
	}
	defer db.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(o.kafka), kgo.DefaultProduceTopic(o.limitTopic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return err
	}
	defer cl.Close()

	rows, err := db.QueryContext(ctx, "SELECT id, name, amount, updated_at FROM "+o.limitTable+" ORDER BY id")
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		mu         sync.Mutex
		firstErr   error
		firstAck   time.Time
		wg         sync.WaitGroup
		n          int
		prefix     = []byte(`{"schema":` + sourceValueSchema + `,"payload":`)
		r          sourceRow
		updatedAt  time.Time
		queryStart = time.Now()
	)
	for rows.Next() {
		if err := rows.Scan(&r.ID, &r.Name, &r.Amount, &updatedAt); err != nil {
			return err
		}
		r.UpdatedAt = updatedAt.UnixMilli()
		v := appendSourceRow(make([]byte, 0, len(prefix)+96), prefix, &r)
		wg.Add(1)
		n++
		cl.Produce(ctx, &kgo.Record{Value: v}, func(_ *kgo.Record, err error) {
			mu.Lock()
			if firstAck.IsZero() {
				firstAck = time.Now()
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
			wg.Done()
		})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("producing: %w", firstErr)
	}
	if n != o.records {
		return fmt.Errorf("read %d rows, want %d", n, o.records)
	}
	if n < 2 {
		return errors.New("need at least 2 rows to time")
	}
	took := time.Since(firstAck)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return err
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	res := limitResult{Records: n, Seconds: took.Seconds(), RecordsPerSec: float64(n-1) / took.Seconds(),
		PeakRSSBytes: ru.Maxrss * 1024, CPUSeconds: cpu.Seconds(),
		Note: fmt.Sprintf("database/sql + go-sql-driver/mysql SELECT … ORDER BY id, JSON appended by hand per row, kgo producer (acks=all, idempotent, uncompressed); "+
			"query to first acknowledgement %.2f s", firstAck.Sub(queryStart).Seconds())}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// appendSourceRow appends JsonConverter's bytes for r: the envelope's prefix (schema),
// then the payload, written without reflection.
func appendSourceRow(b, prefix []byte, r *sourceRow) []byte {
	b = append(b, prefix...)
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, r.ID, 10)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, r.Name)
	b = append(b, `,"amount":`...)
	b = strconv.AppendFloat(b, r.Amount, 'g', -1, 64)
	b = append(b, `,"updated_at":`...)
	b = strconv.AppendInt(b, r.UpdatedAt, 10)
	return append(b, "}}"...)
}

// appendJSONString appends s as a JSON string, escaping quotes, backslashes and
// control characters.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
