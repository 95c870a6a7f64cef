package bigquery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
)

func TestRouting(t *testing.T) {
	s := &settings{dataset: "analytics", sanitizeTopics: true}
	r := router{s: s}
	for topic, want := range map[string]string{
		"mysql.orders":     "analytics.mysql_orders",
		"other:tbl-1":      "other.tbl_1",
		"plain_table":      "analytics.plain_table",
		"x.y.z-ü":          "analytics.x_y_z__",
		"ds:mysql.orders2": "ds.mysql_orders2",
	} {
		id, err := r.route(topic)
		if err != nil || id.String() != want {
			t.Errorf("route(%q) = %v, %v; want %s", topic, id, err, want)
		}
	}
	if _, err := r.route("a:b:c"); err == nil {
		t.Error("a topic with two ':' was routed")
	}
	m, err := parseTopicMap(" mysql.orders : orders , t2:tbl2")
	if err != nil {
		t.Fatal(err)
	}
	r = router{s: &settings{dataset: "d", sanitizeTopics: true, topicToTable: m}}
	for topic, want := range map[string]string{"mysql.orders": "d.orders", "t2": "d.tbl2", "un.listed": "d.un.listed"} {
		if id, _ := r.route(topic); id.String() != want {
			t.Errorf("mapped route(%q) = %v, want %s (no sanitizing with topic2TableMap)", topic, id, want)
		}
	}
	for _, bad := range []string{"a", "a:b,a:c", "a:", ":b"} {
		if _, err := parseTopicMap(bad); err == nil {
			t.Errorf("parseTopicMap(%q) accepted", bad)
		}
	}
}

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{"a.b": "a_b", "1st": "_1st", "_ok": "_ok", "émoji😀": "_moji_", "": "_"} {
		if got := sanitizeName(in); got != want {
			t.Errorf("sanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestErrorClasses(t *testing.T) {
	api := func(code int, reason string) error {
		return fmt.Errorf("wrapped: %w", &googleapi.Error{Code: code, Errors: []googleapi.ErrorItem{{Reason: reason}}})
	}
	cases := []struct {
		err       error
		retriable bool
	}{
		{api(500, "backendError"), true},
		{api(503, ""), true},
		{api(429, ""), true},
		{api(403, "rateLimitExceeded"), true},
		{api(403, "quotaExceeded"), true},
		{api(403, "accessDenied"), false},
		{api(401, ""), false},
		{api(400, "invalid"), false},
		{api(404, "notFound"), false},
		{errors.New("connection reset by peer"), true},
		{context.Canceled, false},
	}
	for _, c := range cases {
		if got := isRetriable(c.err); got != c.retriable {
			t.Errorf("isRetriable(%v) = %v, want %v", c.err, got, c.retriable)
		}
	}
	if !isTooLarge(api(413, "")) || !isTooLarge(&googleapi.Error{Code: 400, Message: "Request payload size exceeds the limit: 10485760 bytes."}) || isTooLarge(api(400, "invalid")) {
		t.Error("isTooLarge misclassifies")
	}
}

func TestEvolve(t *testing.T) {
	table := bq.Schema{
		{Name: "id", Type: bq.IntegerFieldType, Required: true},
		{Name: "name", Type: bq.StringFieldType, Required: true},
		{Name: "addr", Type: bq.RecordFieldType, Schema: bq.Schema{{Name: "city", Type: bq.StringFieldType}}},
	}
	proposed := bq.Schema{
		{Name: "id", Type: bq.IntegerFieldType, Required: true},
		{Name: "name", Type: bq.StringFieldType},
		{Name: "addr", Type: bq.RecordFieldType, Schema: bq.Schema{{Name: "city", Type: bq.StringFieldType}, {Name: "zip", Type: bq.StringFieldType}}},
		{Name: "coupon", Type: bq.StringFieldType},
	}
	if _, err := evolve(table, proposed, false, false); err == nil || !strings.Contains(err.Error(), AllowNewFields) {
		t.Errorf("new fields without allowNewBigQueryFields: err = %v", err)
	}
	ch, err := evolve(table, proposed, true, false)
	if err != nil || !ch.changed {
		t.Fatalf("evolve = %v, %v", ch, err)
	}
	if got := describeSchema(ch.merged); got != "id INTEGER REQUIRED, name STRING REQUIRED, addr RECORD NULLABLE {city STRING NULLABLE, zip STRING NULLABLE}, coupon STRING NULLABLE" {
		t.Errorf("merged without relaxation: %s", got)
	}
	ch, _ = evolve(table, proposed, true, true)
	if got := describeSchema(ch.merged); !strings.HasPrefix(got, "id INTEGER REQUIRED, name STRING NULLABLE") {
		t.Errorf("merged with relaxation: %s", got)
	}
	required := bq.Schema{{Name: "must", Type: bq.StringFieldType, Required: true}}
	if _, err := evolve(table, append(table, required...), true, false); err == nil || !strings.Contains(err.Error(), AllowRequiredRelaxation) {
		t.Errorf("a REQUIRED new column without relaxation: err = %v", err)
	}
	if ch, _ := evolve(table, table, true, true); ch.changed {
		t.Error("the same schema counts as a change")
	}
}

func TestMergeSQL(t *testing.T) {
	cols := bq.Schema{{Name: "id", Type: bq.IntegerFieldType}, {Name: "status", Type: bq.StringFieldType}}
	keys := bq.Schema{{Name: "id", Type: bq.IntegerFieldType}}
	mt := &mergeTable{dest: tableID{"ds", "orders"}, tmp: tableID{"ds", "orders_tmp_0_x_1"}, keyCols: keys}
	build := func(upsert, del bool) string {
		task := &Task{s: &settings{upsert: upsert, delete: del, keyField: "pk"}, c: &clients{project: "p"}}
		return (&merger{t: task}).mergeSQL(mt, 7, cols)
	}
	want := map[string]string{
		"upsert": "MERGE `p.ds.orders` dst USING (SELECT * FROM (SELECT ARRAY_AGG(x ORDER BY i DESC LIMIT 1)[OFFSET(0)] src FROM `p.ds.orders_tmp_0_x_1` x WHERE batchNumber = 7 GROUP BY key.`id`)) ON dst.`pk` = src.key " +
			"WHEN MATCHED THEN UPDATE SET `id` = src.value.`id`, `status` = src.value.`status` WHEN NOT MATCHED THEN INSERT (`pk`, `id`, `status`) VALUES (src.key, src.value.`id`, src.value.`status`)",
		"upsert+delete": "MERGE `p.ds.orders` dst USING (SELECT * FROM (SELECT ARRAY_AGG(x ORDER BY i DESC LIMIT 1)[OFFSET(0)] src FROM `p.ds.orders_tmp_0_x_1` x WHERE batchNumber = 7 GROUP BY key.`id`)) ON dst.`pk` = src.key " +
			"WHEN MATCHED AND src.value IS NOT NULL THEN UPDATE SET `id` = src.value.`id`, `status` = src.value.`status` WHEN MATCHED AND src.value IS NULL THEN DELETE WHEN NOT MATCHED AND src.value IS NOT NULL THEN INSERT (`pk`, `id`, `status`) VALUES (src.key, src.value.`id`, src.value.`status`)",
		"delete": "MERGE `p.ds.orders` dst USING (SELECT key, value FROM (SELECT x.key, x.value, x.i, MAX(IF(x.value IS NULL, x.i, NULL)) OVER (PARTITION BY x.key.`id`) AS di FROM `p.ds.orders_tmp_0_x_1` x WHERE batchNumber = 7) WHERE di IS NULL OR i >= di) src " +
			"ON dst.`pk` = src.key AND src.value IS NULL WHEN MATCHED THEN DELETE WHEN NOT MATCHED AND src.value IS NOT NULL THEN INSERT (`pk`, `id`, `status`) VALUES (src.key, src.value.`id`, src.value.`status`)",
	}
	for name, got := range map[string]string{"upsert": build(true, false), "upsert+delete": build(true, true), "delete": build(false, true)} {
		if got != want[name] {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want[name])
		}
	}
}

func TestCrossCheck(t *testing.T) {
	base := func() map[string]string {
		return map[string]string{Project: "p", DefaultDataset: "d", Endpoint: "http://127.0.0.1:1"}
	}
	for name, c := range map[string]struct {
		set  map[string]string
		key  string
		frag string
	}{
		"merge both off":    {map[string]string{UpsertEnabled: "true", KafkaKeyFieldName: "k", MergeIntervalMs: "-1", MergeRecordsThreshold: "-1"}, MergeIntervalMs, "cannot both be -1"},
		"batch mode alone":  {map[string]string{EnableBatchMode: "true"}, EnableBatchMode, UseStorageWriteAPI},
		"too many clusters": {map[string]string{TimestampPartitionField: "ts", PartitionDecorator: "false", ClusteringFields: "a,b,c,d,e"}, ClusteringFields, "at most 4"},
		"decorator + field": {map[string]string{TimestampPartitionField: "ts"}, PartitionDecorator, TimestampPartitionField},
		"no keyfile":        {map[string]string{Endpoint: ""}, Keyfile, "required"},
	} {
		props := base()
		for k, v := range c.set {
			props[k] = v
		}
		errs := validateConfig(props)
		if !strings.Contains(strings.Join(errs[c.key], " "), c.frag) {
			t.Errorf("%s: errors %v, want one under %s containing %q", name, errs, c.key, c.frag)
		}
	}
	if errs := validateConfig(base()); len(errs) != 0 {
		t.Errorf("valid config: %v", errs)
	}
	if _, err := ConfigDef().Parse(map[string]string{Project: "p", DefaultDataset: "d", MergeIntervalMs: "5000"}); err == nil {
		t.Error("mergeIntervalMs=5000 accepted (must be -1 or at least 10000)")
	}
}
