package main

import (
	"context"
	"encoding/json"
	"testing"
)

// tableOf is an in-memory stand-in for the sink's table: the first written[q] records of
// each partition q are present, as when each partition is written in order.
func tableOf(n, p int, written []int) *sinkProgress {
	sp := &sinkProgress{n: n, p: p, done: make([]int, p)}
	present := func(id int64) bool {
		q, k := int(id)%p, int(id)/p
		return k < written[q]
	}
	sp.probe = func(_ context.Context, ids []int64) (map[int64]bool, error) {
		got := map[int64]bool{}
		for _, id := range ids {
			if present(id) {
				got[id] = true
			}
		}
		return got, nil
	}
	sp.counter = func(context.Context) (int64, error) {
		var c int64
		for _, w := range written {
			c += int64(w)
		}
		return c, nil
	}
	return sp
}

func TestSinkProgressFindsPrefixes(t *testing.T) {
	const n, p = 1_000_003, 4
	written := make([]int, p)
	sp := tableOf(n, p, written)
	steps := [][]int{{0, 0, 0, 0}, {1, 0, 0, 0}, {17, 250_000, 3, 1000}, {20_000, 250_000, 90_001, 123_456},
		{250_001, 250_001, 250_001, 250_000}}
	for _, w := range steps {
		copy(written, w)
		want := int64(0)
		for _, x := range w {
			want += int64(x)
		}
		// A few polls converge even on large jumps; each is a lower bound.
		var got int64
		for range 5 {
			c, err := sp.measure(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if c > want {
				t.Fatalf("written %v: counted %d, more than %d", w, c, want)
			}
			got = c
		}
		if got != want {
			t.Fatalf("written %v: counted %d after 5 polls, want %d", w, got, want)
		}
	}
}

func TestSinkRecordsAreValidJSON(t *testing.T) {
	for _, i := range []int{0, 1, 999_999} {
		var k, v struct {
			Payload map[string]any `json:"payload"`
		}
		if err := json.Unmarshal(sinkKey(i), &k); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
		if err := json.Unmarshal(sinkValue(i), &v); err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		if k.Payload["id"] != float64(i) || v.Payload["id"] != float64(i) || v.Payload["amount"] != float64(i)*0.25 {
			t.Fatalf("record %d: key %v, value %v", i, k.Payload, v.Payload)
		}
	}
}

func TestCheckSourceRow(t *testing.T) {
	row := func(id int64) []byte {
		b, _ := json.Marshal(map[string]any{"schema": json.RawMessage(sourceValueSchema),
			"payload": sourceRow{ID: id, Name: "name-" + itoa(id), Amount: float64(id) * 0.25, UpdatedAt: baseEpochMS + id*1000}})
		return b
	}
	if err := checkSourceRow(0, row(1), 1); err != nil {
		t.Fatal(err)
	}
	if err := checkSourceRow(0, row(7), 0); err != nil {
		t.Fatal(err)
	}
	if err := checkSourceRow(0, row(7), 1); err == nil {
		t.Fatal("id 7 accepted as the first row")
	}
}

func itoa(i int64) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestAppendSourceRow(t *testing.T) {
	prefix := []byte(`{"schema":` + sourceValueSchema + `,"payload":`)
	r := sourceRow{ID: 42, Name: "name-\"42\"\\\n\x01é", Amount: 10.5, UpdatedAt: baseEpochMS + 42000}
	var got struct {
		Schema  map[string]any `json:"schema"`
		Payload sourceRow      `json:"payload"`
	}
	b := appendSourceRow(nil, prefix, &r)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if got.Payload != r || got.Schema["name"] != sourceTableName {
		t.Fatalf("decoded %+v from %s", got, b)
	}
}

func TestMavenError(t *testing.T) {
	out := "[INFO] BUILD FAILURE\n[ERROR] Failed to execute goal on project x: Could not find artifact io.debezium:debezium-connector-jdbc:jar:9.9.9.Final in central\n[ERROR] \n"
	if got := mavenError(out); got != "Failed to execute goal on project x: Could not find artifact io.debezium:debezium-connector-jdbc:jar:9.9.9.Final in central" {
		t.Fatalf("mavenError = %q", got)
	}
}
