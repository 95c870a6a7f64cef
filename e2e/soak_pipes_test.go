package e2e

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	bq "cloud.google.com/go/bigquery"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/api/iterator"
)

// The soak's load generators and the checks of what reached each sink.
// Every record carries a sequence number (a line number, a row id, a
// record id) counted from 0, so what a source produced is the range
// [0, produced) and each sink is checked for every number in it.

// loader writes batches of numbered records at a steady rate. A batch that
// fails (its service is down) is tried again until it succeeds, so the
// numbers produced are always a range from 0 with no gap.
type loader struct {
	name     string
	perTick  int64
	tick     time.Duration
	write    func(ctx context.Context, from, n int64) error
	produced atomic.Int64 // records written so far
	failures atomic.Int64 // failed batch attempts
	lastErr  atomic.Value // string
}

// run writes until stop is closed, then returns after the batch in hand is
// written (or ctx ends).
func (l *loader) run(ctx context.Context, stop <-chan struct{}) {
	tk := time.NewTicker(l.tick)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		from := l.produced.Load()
		for {
			bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := l.write(bctx, from, l.perTick)
			cancel()
			if err == nil {
				break
			}
			l.failures.Add(1)
			l.lastErr.Store(err.Error())
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
		l.produced.Store(from + l.perTick)
	}
}

// fsLine is the line number i of the FileStream source's input file.
func fsLine(i int64) string { return fmt.Sprintf("soak-fs-%08d", i) }

var fsLineRE = regexp.MustCompile(`^soak-fs-(\d{8})$`)

// fileLoader appends lines to the FileStream source's file.
func fileLoader(path string, perTick int64, tick time.Duration) *loader {
	return &loader{name: "filestream", perTick: perTick, tick: tick, write: func(_ context.Context, from, n int64) error {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		var b strings.Builder
		for i := from; i < from+n; i++ {
			b.WriteString(fsLine(i) + "\n")
		}
		_, err = f.WriteString(b.String())
		return errors.Join(err, f.Close())
	}}
}

// mariaLoader inserts rows with explicit ids into soak_rows, one statement
// a batch and one writer, so ids commit in increasing order (what the
// incrementing mode needs). INSERT IGNORE makes a retry of a batch that
// did commit harmless.
func mariaLoader(db *sql.DB, perTick int64, tick time.Duration) *loader {
	return &loader{name: "mariadb", perTick: perTick, tick: tick, write: func(ctx context.Context, from, n int64) error {
		vals := make([]string, 0, n)
		for i := from; i < from+n; i++ {
			vals = append(vals, fmt.Sprintf("(%d, 'row-%d')", i, i))
		}
		_, err := db.ExecContext(ctx, "INSERT IGNORE INTO soak_rows (id, payload) VALUES "+strings.Join(vals, ","))
		return err
	}}
}

// bqRecord is record id of the BigQuery pipeline's topic: plain JSON.
func bqRecord(id int64) *kgo.Record {
	return &kgo.Record{Key: []byte(strconv.FormatInt(id, 10)),
		Value: fmt.Appendf(nil, `{"id":%d,"payload":"bq-%d"}`, id, id)}
}

// kafkaLoader produces the BigQuery pipeline's records. A batch that is
// produced again after a failure may land twice; that shows as duplicates.
func kafkaLoader(cl *kgo.Client, perTick int64, tick time.Duration) *loader {
	return &loader{name: "kafka", perTick: perTick, tick: tick, write: func(ctx context.Context, from, n int64) error {
		recs := make([]*kgo.Record, 0, n)
		for i := from; i < from+n; i++ {
			recs = append(recs, bqRecord(i))
		}
		return cl.ProduceSync(ctx, recs...).FirstErr()
	}}
}

// tally is what a sink holds of a range [0, produced).
type tally struct {
	produced  int64
	distinct  int64   // numbers in range seen at least once
	total     int64   // records seen (in range)
	missing   []int64 // numbers never seen (first ones)
	nMissing  int64
	malformed int64 // records that parse as none of the numbers
}

func (c tally) lost() int64 { return c.nMissing }
func (c tally) dups() int64 { return c.total - c.distinct }

func (c tally) String() string {
	s := fmt.Sprintf("%d produced, %d distinct at the sink, %d missing, %d duplicates", c.produced, c.distinct, c.nMissing, c.dups())
	if c.malformed > 0 {
		s += fmt.Sprintf(", %d malformed", c.malformed)
	}
	if len(c.missing) > 0 {
		s += fmt.Sprintf(" (first missing: %v)", c.missing)
	}
	return s
}

// count tallies seen against [0, produced).
func count(produced int64, seen map[int64]int64, malformed int64) tally {
	c := tally{produced: produced, malformed: malformed}
	for i := range produced {
		n := seen[i]
		if n == 0 {
			c.nMissing++
			if len(c.missing) < 10 {
				c.missing = append(c.missing, i)
			}
			continue
		}
		c.distinct++
		c.total += n
	}
	return c
}

// fileTally reads the FileStream sink's output. A line cut by a kill and
// continued by the next write does not parse; its record is redelivered.
func fileTally(path string, produced int64) (tally, error) {
	f, err := os.Open(path)
	if err != nil {
		return tally{}, err
	}
	defer f.Close()
	seen := map[int64]int64{}
	var malformed int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := fsLineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			malformed++
			continue
		}
		n, _ := strconv.ParseInt(m[1], 10, 64)
		seen[n]++
	}
	if err := sc.Err(); err != nil {
		return tally{}, err
	}
	return count(produced, seen, malformed), nil
}

// sqlIDs reads query's single int64 column into counts.
func sqlIDs(ctx context.Context, db *sql.DB, query string) (map[int64]int64, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seen := map[int64]int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		seen[id]++
	}
	return seen, rows.Err()
}

// bqTally counts the ids in the BigQuery table; a table that does not
// exist yet counts as empty.
func bqTally(ctx context.Context, c *bq.Client, ref string, produced int64) (tally, error) {
	it, err := c.Query(fmt.Sprintf("SELECT id, COUNT(*) AS n FROM %s GROUP BY id", ref)).Read(ctx)
	if err != nil {
		if strings.Contains(err.Error(), "notFound") || strings.Contains(err.Error(), "Not found") {
			return count(produced, nil, 0), nil
		}
		return tally{}, err
	}
	seen := map[int64]int64{}
	var malformed int64
	for {
		var row struct {
			ID bq.NullInt64 `bigquery:"id"`
			N  int64        `bigquery:"n"`
		}
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return tally{}, err
		}
		if !row.ID.Valid {
			malformed += row.N
			continue
		}
		seen[row.ID.Int64] += row.N
	}
	return count(produced, seen, malformed), nil
}

// bqDistinctBelow counts the distinct ids below n in the BigQuery table.
func bqDistinctBelow(ctx context.Context, c *bq.Client, ref string, n int64) (int64, error) {
	it, err := c.Query(fmt.Sprintf("SELECT COUNT(DISTINCT id) AS d FROM %s WHERE id < %d", ref, n)).Read(ctx)
	if err != nil {
		return 0, err
	}
	var row struct {
		D int64 `bigquery:"d"`
	}
	if err := it.Next(&row); err != nil {
		return 0, err
	}
	return row.D, nil
}

// topicTally reads a topic from the start to its end offsets at call time
// and counts the sequence numbers id(value) finds in the records.
func topicTally(ctx context.Context, cl *kgo.Client, topic string, produced int64, id func([]byte) (int64, bool)) (tally, error) {
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return tally{}, err
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	seen := map[int64]int64{}
	var malformed int64
	if len(want) > 0 {
		offsets := map[string]map[int32]kgo.Offset{topic: {}}
		for p := range want {
			offsets[topic][p] = kgo.NewOffset().AtStart()
		}
		rd, err := kgo.NewClient(kgo.SeedBrokers(cl.OptValue(kgo.SeedBrokers).([]string)...),
			kgo.ConsumePartitions(offsets), kgo.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			return tally{}, err
		}
		defer rd.Close()
		for len(want) > 0 {
			fs := rd.PollFetches(ctx)
			if ctx.Err() != nil {
				return tally{}, fmt.Errorf("reading %s: %w (partitions left: %v)", topic, ctx.Err(), want)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if end, ok := want[r.Partition]; ok {
					if r.Offset+1 >= end {
						delete(want, r.Partition)
					}
					if r.Offset >= end {
						return
					}
				}
				if n, ok := id(r.Value); ok {
					seen[n]++
				} else {
					malformed++
				}
			})
		}
	}
	return count(produced, seen, malformed), nil
}

// jdbcRecordID is the id of a JDBC source record (JSON with schema).
func jdbcRecordID(v []byte) (int64, bool) {
	var r struct {
		Payload struct {
			ID *int64 `json:"id"`
		} `json:"payload"`
	}
	if json.Unmarshal(v, &r) != nil || r.Payload.ID == nil {
		return 0, false
	}
	return *r.Payload.ID, true
}

// fsRecordID is the line number of a FileStream source record (a JSON
// string with schema).
func fsRecordID(v []byte) (int64, bool) {
	var r struct {
		Payload string `json:"payload"`
	}
	if json.Unmarshal(v, &r) != nil {
		return 0, false
	}
	m := fsLineRE.FindStringSubmatch(r.Payload)
	if m == nil {
		return 0, false
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n, true
}
