package datagen

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/ferryhq/ferry/connect"
)

const (
	// burst is how many records one Poll returns when max.interval is 0.
	burst = 100
	// idleWait is how long Poll waits once all iterations are done.
	idleWait = time.Second
	// seedMix derives the PCG's second seed word from the first.
	seedMix = 0x9e3779b97f4a7c15
)

// Task generates the records of one datagen task.
//
// Its random state is reseeded after every record and the new seed stored
// in the record's source offset, together with the iteration number, so a
// restarted task continues the same sequence where the last committed
// record left off.
type Task struct {
	log         *slog.Logger
	topic       string
	maxInterval time.Duration
	iterations  int64 // below 1: unlimited
	qs          *quickstart
	keyIndex    int
	keySchema   *connect.Schema
	taskID      int
	partition   map[string]any // shared by all records; read-only
	generation  int64
	count       int64
	pcg         *rand.PCG
	rng         *rand.Rand
	finished    bool // the end of the iterations was logged
	idle        time.Duration
}

var _ connect.SourceTask = (*Task)(nil)

// Start parses the config, seeds the generator and restores the state
// stored by the previous run of this task.
func (t *Task) Start(ctx context.Context, tc connect.SourceTaskContext, config map[string]string) error {
	s, err := parse(config)
	if err != nil {
		return err
	}
	t.log = tc.Logger()
	t.topic = s.topic
	t.maxInterval = time.Duration(s.maxInterval) * time.Millisecond
	t.iterations = int64(s.iterations)
	t.qs = s.quickstart
	f := t.qs.schema.Field(s.keyField)
	t.keyIndex, t.keySchema = f.Index, f.Schema
	t.taskID = tc.TaskID()
	if v, ok := config[TaskIDKey]; ok {
		if t.taskID, err = strconv.Atoi(v); err != nil {
			return fmt.Errorf("invalid %s %q: %w", TaskIDKey, v, err)
		}
	}
	t.partition = map[string]any{TaskIDKey: t.taskID}
	t.generation, t.count, t.finished, t.idle = 0, 0, false, idleWait

	t.pcg = rand.NewPCG(0, 0)
	t.rng = rand.New(t.pcg)
	if s.seed != nil {
		// Each task walks the seed forward task.id times, so that tasks
		// of one connector differ but stay reproducible.
		t.reseed(uint64(*s.seed))
		for range t.taskID {
			t.reseed(t.rng.Uint64())
		}
	} else {
		t.reseed(rand.Uint64())
	}

	off, err := tc.Offsets().Offset(ctx, t.partition)
	if err != nil {
		return fmt.Errorf("reading the stored offset of task %d: %w", t.taskID, err)
	}
	if off != nil {
		// The stored offset is the state for the next record: restore it.
		gen, ok1 := number(off[TaskGenerationKey])
		count, ok2 := number(off[CurrentIterationKey])
		seed, ok3 := number(off[RandomSeedKey])
		if !ok1 || !ok2 || !ok3 {
			return fmt.Errorf("the stored offset %v of task %d is not a datagen offset", off, t.taskID)
		}
		t.generation, t.count = gen, count
		t.reseed(uint64(seed))
		t.log.Debug("resuming datagen task", "task.generation", gen, "current.iteration", count)
	}
	return nil
}

func (t *Task) reseed(seed uint64) { t.pcg.Seed(seed, seed^seedMix) }

// number reads back an integer stored in an offset, which a JSON store may
// return as any numeric type.
func number(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		return int64(n), n == float64(int64(n))
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// Poll waits a random time below max.interval and returns one record, or
// returns a burst of records at once when max.interval is 0. Once the
// configured iterations are done it idles and returns nil.
func (t *Task) Poll(ctx context.Context) ([]*connect.SourceRecord, error) {
	left := int64(burst)
	if t.iterations > 0 {
		left = min(left, t.iterations-t.count)
	}
	if left <= 0 {
		if !t.finished {
			t.log.Info("generated the configured number of records; the task stays idle", "iterations", t.iterations)
			t.finished = true
		}
		sleep(ctx, t.idle)
		return nil, nil
	}
	if t.maxInterval > 0 {
		// The pause does not draw from the seeded generator, so that the
		// data stays the same whatever the timing.
		if !sleep(ctx, rand.N(t.maxInterval)) {
			return nil, nil
		}
		left = 1
	}
	out := make([]*connect.SourceRecord, 0, left)
	for range left {
		out = append(out, t.next())
	}
	return out, nil
}

// next generates one record and advances the state.
func (t *Task) next() *connect.SourceRecord {
	v := connect.NewStruct(t.qs.schema)
	t.qs.fill(t.rng, t.count, v)

	seed := t.rng.Uint64()
	t.reseed(seed)
	r := &connect.SourceRecord{
		Record: connect.Record{
			Topic:       t.topic,
			Partition:   -1,
			KeySchema:   t.keySchema,
			Key:         v.GetAt(t.keyIndex),
			ValueSchema: t.qs.schema,
			Value:       v,
			Headers: connect.Headers{
				{Key: TaskGenerationKey, Schema: connect.Int64Schema, Value: t.generation},
				{Key: TaskIDKey, Schema: connect.Int64Schema, Value: int64(t.taskID)},
				{Key: CurrentIterationKey, Schema: connect.Int64Schema, Value: t.count},
			},
		},
		SourcePartition: t.partition,
		SourceOffset: map[string]any{
			TaskGenerationKey:   t.generation + 1,
			CurrentIterationKey: t.count + 1,
			RandomSeedKey:       int64(seed),
		},
	}
	t.count++
	return r
}

// Stop does nothing: the task holds no resources.
func (t *Task) Stop() error { return nil }

// sleep waits for d and reports true, or reports false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
