package datagen

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memOffsets is an in-memory offset store keyed by the partition's JSON.
type memOffsets map[string]map[string]any

func (o memOffsets) put(partition, offset map[string]any) {
	k, _ := json.Marshal(partition)
	o[string(k)] = offset
}

func (o memOffsets) Offset(_ context.Context, partition map[string]any) (map[string]any, error) {
	k, err := json.Marshal(partition)
	if err != nil {
		return nil, err
	}
	return o[string(k)], nil
}

type taskCtx struct{ offsets memOffsets }

func (c taskCtx) ConnectorName() string         { return "datagen" }
func (c taskCtx) TaskID() int                   { return 0 }
func (c taskCtx) Logger() *slog.Logger          { return slog.New(slog.DiscardHandler) }
func (c taskCtx) Offsets() connect.OffsetReader { return c.offsets }

func config(kv ...string) map[string]string {
	m := map[string]string{"kafka.topic": "t", "quickstart": "users", "max.interval": "0"}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func startTask(t *testing.T, cfg map[string]string, offsets memOffsets) *Task {
	t.Helper()
	if offsets == nil {
		offsets = memOffsets{}
	}
	task := &Task{}
	if err := task.Start(t.Context(), taskCtx{offsets}, cfg); err != nil {
		t.Fatalf("start: %v", err)
	}
	task.idle = time.Millisecond
	t.Cleanup(func() { task.Stop() })
	return task
}

func poll(t *testing.T, task *Task, n int) []*connect.SourceRecord {
	t.Helper()
	var out []*connect.SourceRecord
	for len(out) < n {
		recs, err := task.Poll(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if recs == nil {
			t.Fatalf("poll returned nothing after %d records", len(out))
		}
		out = append(out, recs...)
	}
	return out[:n]
}

func render(recs []*connect.SourceRecord) string {
	var b strings.Builder
	for _, r := range recs {
		b.WriteString(connect.FormatValue(r.Key) + "=" + connect.FormatValue(r.Value) + "\n")
	}
	return b.String()
}

func TestQuickstartSchemas(t *testing.T) {
	cases := map[string]struct {
		schemaName string
		key        string
		keySchema  *connect.Schema
		fields     []string
	}{
		"users":        {"ksql.users", "userid", connect.StringSchema, []string{"registertime", "userid", "regionid", "gender"}},
		"pageviews":    {"ksql.pageviews", "viewtime", connect.Int64Schema, []string{"viewtime", "userid", "pageid"}},
		"orders":       {"ksql.orders", "orderid", connect.Int32Schema, []string{"ordertime", "orderid", "itemid", "orderunits", "address"}},
		"stock_trades": {"ksql.StockTrade", "symbol", connect.StringSchema, []string{"side", "quantity", "symbol", "price", "account", "userid"}},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			task := startTask(t, config("quickstart", strings.ToUpper(name), "random.seed", "42"), nil)
			for i, r := range poll(t, task, 50) {
				v := r.Value.(*connect.Struct)
				if err := v.Validate(); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if r.ValueSchema != v.Schema() || r.ValueSchema.Name != want.schemaName {
					t.Errorf("value schema %v, want %s", r.ValueSchema, want.schemaName)
				}
				var got []string
				for _, f := range r.ValueSchema.Fields {
					got = append(got, f.Name)
				}
				if strings.Join(got, ",") != strings.Join(want.fields, ",") {
					t.Fatalf("fields = %v, want %v", got, want.fields)
				}
				if !r.KeySchema.Equal(want.keySchema) || !connect.ValuesEqual(r.Key, v.Get(want.key)) {
					t.Errorf("key = %v (%v), want field %s", r.Key, r.KeySchema, want.key)
				}
				if r.Topic != "t" || r.Partition != -1 {
					t.Errorf("topic/partition = %s/%d", r.Topic, r.Partition)
				}
			}
		})
	}
}

func TestValueRanges(t *testing.T) {
	task := startTask(t, config("random.seed", "7"), nil)
	seen := map[string]bool{}
	for _, r := range poll(t, task, 500) {
		v := r.Value.(*connect.Struct)
		uid, region, gender := v.Get("userid").(string), v.Get("regionid").(string), v.Get("gender").(string)
		if len(uid) != len("User_1") || !strings.HasPrefix(uid, "User_") || uid == "User_0" {
			t.Fatalf("userid %q", uid)
		}
		if len(region) != len("Region_1") || !strings.HasPrefix(region, "Region_") {
			t.Fatalf("regionid %q", region)
		}
		if ts := v.Get("registertime").(int64); ts < minTime || ts >= maxTime {
			t.Fatalf("registertime %d", ts)
		}
		seen[gender] = true
	}
	if len(seen) != 3 || !seen["MALE"] || !seen["FEMALE"] || !seen["OTHER"] {
		t.Errorf("genders = %v", seen)
	}

	orders := startTask(t, config("quickstart", "orders", "random.seed", "7"), nil)
	for i, r := range poll(t, orders, 200) {
		v := r.Value.(*connect.Struct)
		if v.Get("orderid").(int32) != int32(i) {
			t.Fatalf("orderid %v at %d", v.Get("orderid"), i)
		}
		if u := v.Get("orderunits").(float64); u < 0.1 || u >= 10 {
			t.Fatalf("orderunits %v", u)
		}
		addr := v.Get("address").(*connect.Struct)
		if z := addr.Get("zipcode").(int64); z < 10000 || z > 99999 {
			t.Fatalf("zipcode %d", z)
		}
		if !strings.HasPrefix(addr.Get("city").(string), "City_") {
			t.Fatalf("city %v", addr.Get("city"))
		}
	}

	pv := startTask(t, config("quickstart", "pageviews"), nil)
	for i, r := range poll(t, pv, 20) {
		if r.Key != int64(1+10*i) {
			t.Fatalf("viewtime %v at %d", r.Key, i)
		}
	}
}

func TestDeterminism(t *testing.T) {
	a := render(poll(t, startTask(t, config("random.seed", "99", "task.id", "1"), nil), 100))
	b := render(poll(t, startTask(t, config("random.seed", "99", "task.id", "1"), nil), 100))
	c := render(poll(t, startTask(t, config("random.seed", "99", "task.id", "0"), nil), 100))
	d := render(poll(t, startTask(t, config("random.seed", "98", "task.id", "1"), nil), 100))
	if a != b {
		t.Error("the same seed and task id must give the same data")
	}
	if a == c || a == d {
		t.Error("another task id or seed must give other data")
	}
}

func TestRestartContinuesSequence(t *testing.T) {
	cfg := config("quickstart", "orders", "random.seed", "5", "task.id", "2")
	all := poll(t, startTask(t, cfg, nil), 30)

	first := poll(t, startTask(t, cfg, nil), 12)
	last := first[len(first)-1]
	if got := last.SourcePartition; len(got) != 1 || got["task.id"] != 2 {
		t.Fatalf("partition = %v", got)
	}
	if last.SourceOffset["current.iteration"] != int64(12) || last.SourceOffset["task.generation"] != int64(1) {
		t.Fatalf("offset = %v", last.SourceOffset)
	}
	// Store the offset as a JSON store would hand it back.
	raw, _ := json.Marshal(last.SourceOffset)
	var stored map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&stored); err != nil {
		t.Fatal(err)
	}
	offsets := memOffsets{}
	offsets.put(last.SourcePartition, stored)

	resumed := poll(t, startTask(t, cfg, offsets), 18)
	if got, want := render(resumed), render(all[12:]); got != want {
		t.Errorf("resumed records differ:\n%s\nwant\n%s", got, want)
	}
	if resumed[0].SourceOffset["task.generation"] != int64(2) {
		t.Errorf("generation after restart = %v", resumed[0].SourceOffset["task.generation"])
	}
	if h, _ := resumed[0].Headers.Last("current.iteration"); h.Value != int64(12) {
		t.Errorf("current.iteration header = %v", h.Value)
	}
}

func TestIterationsThenIdle(t *testing.T) {
	task := startTask(t, config("iterations", "5"), nil)
	recs := poll(t, task, 5)
	if len(recs) != 5 {
		t.Fatalf("got %d records", len(recs))
	}
	for range 3 {
		got, err := task.Poll(t.Context())
		if got != nil || err != nil {
			t.Fatalf("after the iterations: %v, %v", got, err)
		}
	}
}

func TestPollHonoursCancel(t *testing.T) {
	for _, cfg := range []map[string]string{
		config("max.interval", "3600000"),
		config("iterations", "1"),
	} {
		task := startTask(t, cfg, nil)
		task.idle = time.Hour
		if cfg["iterations"] == "1" {
			poll(t, task, 1)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			if recs, err := task.Poll(ctx); recs != nil || err != nil {
				t.Errorf("poll = %v, %v", recs, err)
			}
		}()
		cancel()
		<-done
	}
}

func TestMaxIntervalOneRecordPerPoll(t *testing.T) {
	task := startTask(t, config("max.interval", "1"), nil)
	for range 3 {
		recs, err := task.Poll(t.Context())
		if err != nil || len(recs) != 1 {
			t.Fatalf("poll = %d records, %v", len(recs), err)
		}
	}
}

func TestConnector(t *testing.T) {
	c := Plugin().New().(*Connector)
	cfg := config("tasks.max", "3")
	if err := c.Start(t.Context(), nil, cfg); err != nil {
		t.Fatal(err)
	}
	tasks, err := c.TaskConfigs(3)
	if err != nil || len(tasks) != 3 {
		t.Fatalf("task configs = %v, %v", tasks, err)
	}
	for i, tc := range tasks {
		if tc["task.id"] != string(rune('0'+i)) || tc["quickstart"] != "users" {
			t.Errorf("task %d config = %v", i, tc)
		}
	}
	def := Plugin().ConfigDefOf()
	for name, want := range map[string]any{"max.interval": int64(500), "iterations": -1, "quickstart": "", "random.seed": nil} {
		if k, ok := def.Key(name); !ok || k.Default != want {
			t.Errorf("%s default = %#v, want %#v", name, k.Default, want)
		}
	}
	if k, _ := def.Key("kafka.topic"); !k.Required() {
		t.Error("kafka.topic must be required")
	}
}

func TestValidation(t *testing.T) {
	c := &Connector{}
	cases := []struct {
		cfg  map[string]string
		key  string
		want string
	}{
		{map[string]string{"kafka.topic": "t"}, "quickstart", "Must set exactly one of schema.string, schema.filename, quickstart"},
		{config("schema.string", "{}"), "schema.string", "Must set exactly one of"},
		{config("quickstart", "", "schema.filename", "/x.avsc"), "schema.filename", "not supported"},
		{config("schema.keyfield", "nope"), "schema.keyfield", "has no field nope"},
	}
	for _, tc := range cases {
		errs := c.ValidateConfig(tc.cfg)
		if !strings.Contains(strings.Join(errs[tc.key], "|"), tc.want) {
			t.Errorf("%v: errors %v, want %q on %s", tc.cfg, errs, tc.want, tc.key)
		}
		if err := c.Start(t.Context(), nil, tc.cfg); err == nil {
			t.Errorf("%v: start should fail", tc.cfg)
		}
	}
	if errs := c.ValidateConfig(config()); len(errs) != 0 {
		t.Errorf("valid config: %v", errs)
	}
	vals := Plugin().ConfigDefOf().Validate(config("quickstart", "nosuch"))
	for _, v := range vals {
		if v.Name == "quickstart" && len(v.Errors) == 0 {
			t.Error("unknown quickstart accepted")
		}
	}
	reg, err := connect.NewRegistry(Plugin())
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := reg.LookupConnector("DatagenConnector"); !ok || p.Class != Class {
		t.Error("alias DatagenConnector not resolved")
	}
}

func TestKeyfieldOverride(t *testing.T) {
	task := startTask(t, config("quickstart", "pageviews", "schema.keyfield", "pageid"), nil)
	for _, r := range poll(t, task, 10) {
		if r.KeySchema != connect.StringSchema || r.Key != r.Value.(*connect.Struct).Get("pageid") {
			t.Fatalf("key = %v (%v)", r.Key, r.KeySchema)
		}
		if !strings.HasPrefix(r.Key.(string), "Page_") {
			t.Fatalf("pageid %v", r.Key)
		}
	}
}
