package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// nodeURL is the OpenSearch node of the test bed (scripts/testbed.sh
// start-opensearch); tests that need one skip without it.
func nodeURL(t testing.TB) string {
	u := os.Getenv("FERRY_TEST_OPENSEARCH")
	if u == "" {
		t.Skip("FERRY_TEST_OPENSEARCH is not set (scripts/testbed.sh start-opensearch)")
	}
	return u
}

type taskCtx struct {
	mu       sync.Mutex
	reported []*connect.SinkRecord
	withDLQ  bool
}

func (c *taskCtx) ConnectorName() string                 { return "es-test" }
func (c *taskCtx) TaskID() int                           { return 0 }
func (c *taskCtx) Logger() *slog.Logger                  { return slog.New(slog.DiscardHandler) }
func (c *taskCtx) Assignment() []connect.TopicPartition  { return nil }
func (c *taskCtx) Seek(map[connect.TopicPartition]int64) {}
func (c *taskCtx) Pause(...connect.TopicPartition)       {}
func (c *taskCtx) Resume(...connect.TopicPartition)      {}
func (c *taskCtx) SetRetryTimeout(time.Duration)         {}
func (c *taskCtx) RequestCommit()                        {}
func (c *taskCtx) ErrantRecordReporter() connect.ErrantRecordReporter {
	if !c.withDLQ {
		return nil
	}
	return c
}
func (c *taskCtx) Report(_ context.Context, rec *connect.SinkRecord, _ error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reported = append(c.reported, rec)
	return nil
}

func startTask(t testing.TB, f flavour, cfg map[string]string, tc *taskCtx) *Task {
	t.Helper()
	task := &Task{flavour: f}
	if err := task.Start(context.Background(), tc, cfg); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = task.Stop() })
	return task
}

func uniqueTopic(t testing.TB) string {
	return strings.ToLower(fmt.Sprintf("es-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano()))
}

var pointSchema = connect.StructBuilder().Field("id", connect.Int32Schema).Field("name", connect.OptionalStringSchema).
	Field("score", connect.OptionalFloat64Schema).MustBuild()

func point(id int32, name string) *connect.Struct {
	return connect.NewStruct(pointSchema).MustPut("id", id).MustPut("name", name).MustPut("score", float64(id)/2)
}

func rec(topic string, offset int64, key any, value any) *connect.SinkRecord {
	r := &connect.SinkRecord{Record: connect.Record{Topic: topic, Key: key, Value: value,
		Timestamp: time.UnixMilli(1_700_000_000_000 + offset)}, KafkaOffset: offset}
	if key != nil {
		r.KeySchema = connect.StringSchema
	}
	if _, ok := value.(*connect.Struct); ok {
		r.ValueSchema = pointSchema
	}
	return r
}

// get runs a GET against the node and decodes the JSON answer.
func get(t testing.TB, base, path string) map[string]any {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, b)
	}
	return m
}

func refresh(t testing.TB, base, index string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/"+index+"/_refresh", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func count(t testing.TB, base, index string) int {
	t.Helper()
	refresh(t, base, index)
	return int(get(t, base, "/"+index+"/_count")["count"].(float64))
}

func doc(t testing.TB, base, index, id string) map[string]any {
	t.Helper()
	m := get(t, base, "/"+index+"/_doc/"+id)
	if m["found"] != true {
		return nil
	}
	m["_source"].(map[string]any)["_version"] = m["_version"]
	return m["_source"].(map[string]any)
}

func TestIndexName(t *testing.T) {
	for _, c := range []struct {
		f        flavour
		in, want string
	}{
		{confluent, "Orders", "orders"},
		{confluent, "_x", "x"},
		{confluent, "--x", "-x"},
		{confluent, ".", "dot"},
		{confluent, "..", "dotdot"},
		{confluent, "a:b", "a:b"},
		{aiven, "a:b", "a_b"},
		{aiven, "+a", "a"},
	} {
		if got := indexName(c.f, c.in); got != c.want {
			t.Errorf("indexName(%v, %q) = %q, want %q", c.f, c.in, got, c.want)
		}
	}
}

func TestActionLines(t *testing.T) {
	tc := &taskCtx{}
	task := startTask(t, confluent, map[string]string{ConnectionURL: "http://127.0.0.1:1", BehaviorOnNullValues: "delete"}, tc)
	task.ready["orders"] = true
	a, _, err := task.convert(context.Background(), rec("orders", 17, "42", point(1, "a")))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"index":{"_index":"orders","_id":"42","version":17,"version_type":"external"}}` + "\n" + `{"id":1,"name":"a","score":0.5}` + "\n"
	if string(a.lines) != want {
		t.Errorf("index lines:\n%s\nwant\n%s", a.lines, want)
	}
	a, _, _ = task.convert(context.Background(), rec("orders", 18, "42", nil))
	if want := `{"delete":{"_index":"orders","_id":"42","version":18,"version_type":"external"}}` + "\n"; string(a.lines) != want {
		t.Errorf("delete line: %s", a.lines)
	}
	task.s.method = upsert
	a, _, _ = task.convert(context.Background(), rec("orders", 19, "42", map[string]any{"n": int64(1)}))
	if want := `{"update":{"_index":"orders","_id":"42","retry_on_conflict":5}}` + "\n" + `{"doc":{"n":1},"upsert":{"n":1}}` + "\n"; string(a.lines) != want {
		t.Errorf("update lines: %s", a.lines)
	}
}

func TestMapping(t *testing.T) {
	s := connect.StructBuilder().Field("b", connect.BooleanSchema).Field("s", connect.StringSchema).
		Field("ts", connect.TimestampSchema().MustBuild()).Field("d", connect.DecimalSchema(2).MustBuild()).
		Field("l", connect.ArrayOf(connect.Int64Schema).MustBuild()).MustBuild()
	m, err := mapping(s)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(m)
	want := `{"properties":{"b":{"type":"boolean"},"d":{"type":"double"},"l":{"type":"long"},"s":{"fields":{"keyword":{"ignore_above":256,"type":"keyword"}},"type":"text"},"ts":{"type":"date"}}}`
	if string(got) != want {
		t.Errorf("mapping %s\nwant    %s", got, want)
	}
	if _, err := mapping(nil); err == nil {
		t.Error("a schemaless value got a mapping")
	}
}

func TestInsertReplayDelete(t *testing.T) {
	base := nodeURL(t)
	topic := uniqueTopic(t)
	tc := &taskCtx{}
	task := startTask(t, confluent, map[string]string{ConnectionURL: base, BehaviorOnNullValues: "delete", BatchSize: "7"}, tc)
	ctx := context.Background()
	var recs []*connect.SinkRecord
	for i := range 50 {
		recs = append(recs, rec(topic, int64(i), fmt.Sprint(i%20), point(int32(i), fmt.Sprintf("n%d", i))))
	}
	if err := task.Put(ctx, recs); err != nil {
		t.Fatal(err)
	}
	// A replay (as after a restart) is answered with version conflicts: no error, no change.
	if err := task.Put(ctx, recs[:30]); err != nil {
		t.Fatalf("replay: %v", err)
	}
	if n := count(t, base, topic); n != 20 {
		t.Fatalf("count %d, want 20", n)
	}
	d := doc(t, base, topic, "5")
	if d["name"] != "n45" || d["_version"].(float64) != 45 {
		t.Errorf("doc 5 = %v, want the record of offset 45 at version 45", d)
	}
	props := get(t, base, "/"+topic+"/_mapping")[topic].(map[string]any)["mappings"].(map[string]any)["properties"].(map[string]any)
	if props["id"].(map[string]any)["type"] != "integer" || props["score"].(map[string]any)["type"] != "double" || props["name"].(map[string]any)["type"] != "text" {
		t.Errorf("mapping from the schema: %v", props)
	}
	// Tombstones delete; an older tombstone than the document is a conflict and ignored.
	if err := task.Put(ctx, []*connect.SinkRecord{rec(topic, 60, "5", nil), rec(topic, 10, "7", nil), rec(topic, 61, nil, nil)}); err != nil {
		t.Fatal(err)
	}
	if doc(t, base, topic, "5") != nil || doc(t, base, topic, "7") == nil {
		t.Errorf("delete: doc 5 should be gone and doc 7 (newer than its tombstone) kept")
	}
}

func TestKeyIgnoreAndUpsert(t *testing.T) {
	base := nodeURL(t)
	topic := uniqueTopic(t)
	task := startTask(t, confluent, map[string]string{ConnectionURL: base, KeyIgnore: "true", SchemaIgnore: "true"}, &taskCtx{})
	ctx := context.Background()
	recs := []*connect.SinkRecord{rec(topic, 3, nil, map[string]any{"a": int64(1)}), rec(topic, 4, nil, map[string]any{"a": int64(2)})}
	for range 2 {
		if err := task.Put(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, base, topic); n != 2 {
		t.Fatalf("count %d, want 2", n)
	}
	if d := doc(t, base, topic, topic+"+0+4"); d == nil || d["a"].(float64) != 2 {
		t.Errorf("doc %s+0+4 = %v", topic, d)
	}

	utopic := uniqueTopic(t)
	up := startTask(t, confluent, map[string]string{ConnectionURL: base, WriteMethod: "upsert", SchemaIgnore: "true"}, &taskCtx{})
	if err := up.Put(ctx, []*connect.SinkRecord{rec(utopic, 0, "k", map[string]any{"a": int64(1), "b": "x"}), rec(utopic, 1, "k", map[string]any{"a": int64(2)})}); err != nil {
		t.Fatal(err)
	}
	if d := doc(t, base, utopic, "k"); d["a"].(float64) != 2 || d["b"] != "x" {
		t.Errorf("upserted doc = %v, want a=2 merged with b=x", d)
	}
}

func TestMalformed(t *testing.T) {
	base := nodeURL(t)
	ctx := context.Background()
	bad := func(topic string) []*connect.SinkRecord {
		return []*connect.SinkRecord{rec(topic, 0, "1", map[string]any{"n": int64(1)}), rec(topic, 1, "2", map[string]any{"n": "not a number"}), rec(topic, 2, "3", map[string]any{"n": int64(3)})}
	}
	for _, c := range []struct {
		behaviour string
		dlq       bool
		wantErr   bool
	}{{"ignore", false, false}, {"warn", false, false}, {"fail", false, true}, {"fail", true, false}, {"ignore", true, false}} {
		t.Run(c.behaviour+fmt.Sprint(c.dlq), func(t *testing.T) {
			topic := uniqueTopic(t)
			tc := &taskCtx{withDLQ: c.dlq}
			task := startTask(t, confluent, map[string]string{ConnectionURL: base, SchemaIgnore: "true", BehaviorOnMalformed: c.behaviour}, tc)
			recs := bad(topic)
			if err := task.Put(ctx, recs[:1]); err != nil {
				t.Fatal(err) // fixes the mapping of n as long
			}
			err := task.Put(ctx, recs)
			if (err != nil) != c.wantErr {
				t.Fatalf("Put: %v, want error %v", err, c.wantErr)
			}
			if c.dlq && (len(tc.reported) != 1 || tc.reported[0].KafkaOffset != 1) {
				t.Errorf("reported %v, want offset 1", tc.reported)
			}
			if n := count(t, base, topic); n != 2 {
				t.Errorf("count %d, want 2", n)
			}
		})
	}
}

func TestDataStream(t *testing.T) {
	base := nodeURL(t)
	topic := uniqueTopic(t)
	task := startTask(t, confluent, map[string]string{ConnectionURL: base, DataStreamType: "logs", DataStreamDataset: "ferry", KeyIgnore: "true"}, &taskCtx{})
	ctx := context.Background()
	recs := []*connect.SinkRecord{rec(topic, 0, nil, point(1, "a")), rec(topic, 1, nil, point(2, "b"))}
	for range 2 { // the replay is answered with conflicts: written already
		if err := task.Put(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	ds := "logs-ferry-" + topic
	if n := count(t, base, ds); n != 2 {
		t.Fatalf("count %d, want 2", n)
	}
	m := get(t, base, "/_data_stream/"+ds)
	if l, _ := m["data_streams"].([]any); len(l) != 1 {
		t.Errorf("data stream %s: %v", ds, m)
	}
	hits := get(t, base, "/"+ds+"/_search?q=id:2")["hits"].(map[string]any)["hits"].([]any)
	if len(hits) != 1 || hits[0].(map[string]any)["_source"].(map[string]any)["@timestamp"].(float64) != 1_700_000_000_001 {
		t.Errorf("hits %v, want @timestamp from the record", hits)
	}
}

func TestAivenFlavour(t *testing.T) {
	base := nodeURL(t)
	topic := uniqueTopic(t)
	task := startTask(t, aiven, map[string]string{ConnectionURL: base, "index.write.method": "upsert", BehaviorOnNullValues: "delete"}, &taskCtx{})
	ctx := context.Background()
	if err := task.Put(ctx, []*connect.SinkRecord{rec(topic, 0, "a", point(1, "x")), rec(topic, 1, "b", point(2, "y")), rec(topic, 2, "a", nil)}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, base, topic); n != 1 {
		t.Errorf("count %d, want 1", n)
	}
}

// TestUnreachable: a cluster that does not answer makes Put retriable.
func TestUnreachable(t *testing.T) {
	task := startTask(t, confluent, map[string]string{ConnectionURL: "http://127.0.0.1:1", MaxRetries: "1", RetryBackoff: "1"}, &taskCtx{})
	task.ready["t"] = true
	err := task.Put(context.Background(), []*connect.SinkRecord{rec("t", 0, "k", point(1, "x"))})
	if !connect.IsRetriable(err) {
		t.Fatalf("Put: %v, want a retriable error", err)
	}
	_ = bytes.MinRead
}

func TestEncoder(t *testing.T) {
	ms := connect.MapOf(connect.StringSchema, connect.Int32Schema).MustBuild()
	s := connect.StructBuilder().Field("m", ms).Field("d", connect.DecimalSchema(2).MustBuild()).
		Field("day", connect.DateSchema().MustBuild()).Field("ts", connect.TimestampSchema().MustBuild()).
		Field("b", connect.BytesSchema).Field("l", connect.ArrayOf(connect.StringSchema).MustBuild()).MustBuild()
	ts := time.UnixMilli(1_700_000_000_123).UTC()
	v := connect.NewStruct(s).MustPut("m", map[string]any{"k": int32(1)}).MustPut("d", connect.NewDecimal(12345, 2)).
		MustPut("day", time.UnixMilli(86_400_000*3).UTC()).MustPut("ts", ts).MustPut("b", []byte("hi")).MustPut("l", []any{"x", "y"})
	for _, c := range []struct {
		compact bool
		want    string
	}{
		{true, `{"m":{"k":1},"d":123.45,"day":3,"ts":1700000000123,"b":"aGk=","l":["x","y"]}`},
		{false, `{"m":[{"key":"k","value":1}],"d":123.45,"day":3,"ts":1700000000123,"b":"aGk=","l":["x","y"]}`},
	} {
		got, err := encoder{compactMaps: c.compact}.value(nil, s, v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("compact=%v:\n got %s\nwant %s", c.compact, got, c.want)
		}
	}
}

func TestVersionHeaderAndAivenDataStream(t *testing.T) {
	base := nodeURL(t)
	topic := uniqueTopic(t)
	ctx := context.Background()
	task := startTask(t, confluent, map[string]string{ConnectionURL: base, ExternalVersionHeader: "v"}, &taskCtx{})
	r := rec(topic, 5, "a", point(1, "x"))
	r.Headers = connect.Headers{{Key: "v", Schema: connect.Int64Schema, Value: int64(900)}}
	if err := task.Put(ctx, []*connect.SinkRecord{r}); err != nil {
		t.Fatal(err)
	}
	if d := doc(t, base, topic, "a"); d == nil || d["_version"].(float64) != 900 {
		t.Errorf("doc %v, want version 900 from the header", d)
	}

	dtopic := uniqueTopic(t)
	ds := startTask(t, aiven, map[string]string{ConnectionURL: base, DataStreamEnabled: "true", DataStreamPrefix: "aiven"}, &taskCtx{})
	if err := ds.Put(ctx, []*connect.SinkRecord{rec(dtopic, 0, "a", point(1, "x")), rec(dtopic, 1, "b", point(2, "y"))}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, base, "aiven-"+dtopic); n != 2 {
		t.Errorf("data stream aiven-%s holds %d documents, want 2", dtopic, n)
	}
}

func TestConfigRules(t *testing.T) {
	for _, cfg := range []map[string]string{
		{KeyIgnore: "true", TopicKeyIgnore: "a"},
		{SchemaIgnore: "true", TopicSchemaIgnore: "a"},
		{DataStreamType: "logs"},
		{DataStreamType: "logs", DataStreamDataset: "d", WriteMethod: "upsert"},
		{ProxyHost: "proxy"},
		{SecurityProtocol: "SSL", HTTPSPrefix + sslKeystoreType: "PKCS12"},
		{ConnectionUsername: "u"},
	} {
		cfg[ConnectionURL] = "http://127.0.0.1:9200"
		if _, err := parseSettings(confluent, cfg); err == nil {
			t.Errorf("config %v accepted", cfg)
		}
	}
	if msgs := (&Connector{flavour: aiven}).ValidateConfig(map[string]string{ConnectionURL: "http://h:9200", KeyIgnore: "true", IndexWriteMethod: "upsert"}); len(msgs[KeyIgnore]) != 1 {
		t.Errorf("Aiven upsert with topic.partition.offset ids: %v", msgs)
	}
}

// TestTombstoneFirst: a tombstone of a document that never existed, as the
// first record of a topic, neither fails nor keeps the mapping from being
// made from the next record's schema.
func TestTombstoneFirst(t *testing.T) {
	base := nodeURL(t)
	topic := uniqueTopic(t)
	task := startTask(t, confluent, map[string]string{ConnectionURL: base, BehaviorOnNullValues: "delete"}, &taskCtx{})
	ctx := context.Background()
	if err := task.Put(ctx, []*connect.SinkRecord{rec(topic, 0, "gone", nil)}); err != nil {
		t.Fatal(err)
	}
	if err := task.Put(ctx, []*connect.SinkRecord{rec(topic, 1, "a", point(1, "x")), rec(topic, 2, "never", nil)}); err != nil {
		t.Fatal(err)
	}
	props := get(t, base, "/"+topic+"/_mapping")[topic].(map[string]any)["mappings"].(map[string]any)["properties"].(map[string]any)
	if props["id"].(map[string]any)["type"] != "integer" {
		t.Errorf("mapping %v, want the one from the schema", props)
	}
	if n := count(t, base, topic); n != 1 {
		t.Errorf("count %d, want 1", n)
	}
}
