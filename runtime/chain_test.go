package runtime

import (
	"strings"
	"testing"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/transforms"
)

func transformRegistry(t testing.TB) *connect.Registry {
	t.Helper()
	reg, err := connect.NewRegistry(transforms.Plugins()...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestChainPredicatesNegateAndDrop(t *testing.T) {
	reg := transformRegistry(t)
	chain, err := BuildTransformChain(reg, map[string]string{
		"transforms":                          "route, dropTombstones, tag",
		"transforms.route.type":               "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex":              "(.*)-raw",
		"transforms.route.replacement":        "$1",
		"transforms.route.predicate":          "isRaw",
		"transforms.dropTombstones.type":      "org.apache.kafka.connect.transforms.Filter",
		"transforms.dropTombstones.predicate": "tomb",
		"transforms.tag.type":                 "InsertHeader",
		"transforms.tag.header":               "tagged",
		"transforms.tag.value.literal":        "yes",
		"transforms.tag.predicate":            "hasSkip",
		"transforms.tag.negate":               "true",
		"predicates":                          "isRaw,tomb,hasSkip",
		"predicates.isRaw.type":               "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
		"predicates.isRaw.pattern":            ".*-raw",
		"predicates.tomb.type":                "RecordIsTombstone",
		"predicates.hasSkip.type":             "HasHeaderKey",
		"predicates.hasSkip.name":             "skip",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	if chain.Len() != 3 {
		t.Fatalf("len %d", chain.Len())
	}

	out, err := chain.Apply(&connect.Record{Topic: "orders-raw", Value: "v"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Topic != "orders" || len(out.Headers) != 1 || out.Headers[0].Key != "tagged" {
		t.Fatalf("got %+v", out)
	}
	// Predicate false: the router is skipped; negated predicate true: no tag.
	out, err = chain.Apply(&connect.Record{Topic: "other", Value: "v", Headers: connect.Headers{{Key: "skip"}}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Topic != "other" || len(out.Headers) != 1 {
		t.Fatalf("got %+v", out)
	}
	// Tombstones are dropped; later stages do not run.
	out, err = chain.Apply(&connect.Record{Topic: "orders-raw"})
	if err != nil || out != nil {
		t.Fatalf("got %+v, %v", out, err)
	}
}

func TestChainEmptyAndSinkOffset(t *testing.T) {
	reg := transformRegistry(t)
	chain, err := BuildTransformChain(reg, map[string]string{})
	if err != nil || chain.Len() != 0 {
		t.Fatalf("%v %v", chain, err)
	}
	chain, err = BuildTransformChain(reg, map[string]string{
		"transforms":                   "off,route",
		"transforms.off.type":          "org.apache.kafka.connect.transforms.InsertField$Value",
		"transforms.off.offset.field":  "offset",
		"transforms.route.type":        "RegexRouter",
		"transforms.route.regex":       ".*",
		"transforms.route.replacement": "all",
	})
	if err != nil {
		t.Fatal(err)
	}
	sr := &connect.SinkRecord{Record: connect.Record{Topic: "t", Value: map[string]any{}}, KafkaOffset: 9}
	out, err := chain.ApplySink(sr)
	if err != nil {
		t.Fatal(err)
	}
	if out.Topic != "all" || !connect.ValuesEqual(out.Value, map[string]any{"offset": int64(9)}) {
		t.Fatalf("got %+v", out)
	}
	if _, err := chain.Apply(&sr.Record); err == nil || !strings.Contains(err.Error(), "Only SinkRecord supported") {
		t.Fatalf("source record with offset.field: %v", err)
	}
}

func TestChainErrors(t *testing.T) {
	reg := transformRegistry(t)
	for _, tc := range []struct {
		config map[string]string
		want   string
	}{
		{map[string]string{"transforms": "a", "transforms.a.type": "Nope"},
			"Invalid value Nope for configuration transforms.a.type: Class Nope could not be found."},
		{map[string]string{"transforms": "a"}, `Missing required configuration "transforms.a.type"`},
		{map[string]string{"transforms": "a", "transforms.a.type": "Filter", "transforms.a.predicate": "p"},
			"Invalid value p for configuration transforms.a.predicate: Predicate alias p not found in predicates"},
		{map[string]string{"transforms": "a", "transforms.a.type": "Filter", "transforms.a.negate": "true"},
			"Config 'transforms.a.negate' was provided but there is no config 'transforms.a.predicate' defining a predicate to be negated."},
		{map[string]string{"transforms": "a", "transforms.a.type": "RegexRouter", "transforms.a.regex": "("},
			"configuring transformation a"},
		{map[string]string{"predicates": "p", "predicates.p.type": "TopicNameMatches"},
			`Missing required configuration "pattern"`},
		{map[string]string{"predicates": "p", "predicates.p.type": "RegexRouter"},
			"Class RegexRouter could not be found."},
	} {
		_, err := BuildTransformChain(reg, tc.config)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.config, err, tc.want)
		}
	}
}

func TestValidateTransformConfigs(t *testing.T) {
	reg := transformRegistry(t)
	got := ValidateTransformConfigs(reg, map[string]string{
		"transforms":                       "ins,ok,missingPred",
		"transforms.ins.type":              "org.apache.kafka.connect.transforms.InsertField$Value",
		"transforms.ok.type":               "Filter",
		"transforms.missingPred.type":      "Filter",
		"transforms.missingPred.predicate": "nope",
	})
	if len(got) != 2 {
		t.Fatalf("got %v", got)
	}
	if e := got["transforms.ins.type"]; len(e) != 1 || e[0] != "No field insertion configured" {
		t.Fatalf("ins: %v", e)
	}
	if e := got["transforms.missingPred.predicate"]; len(e) != 1 || !strings.Contains(e[0], "Predicate alias nope not found") {
		t.Fatalf("predicate: %v", e)
	}
}

// BenchmarkChain5 runs a struct record through five common transforms.
func BenchmarkChain5(b *testing.B) {
	reg := transformRegistry(b)
	chain, err := BuildTransformChain(reg, map[string]string{
		"transforms":                   "ins,rep,mask,cast,route",
		"transforms.ins.type":          "org.apache.kafka.connect.transforms.InsertField$Value",
		"transforms.ins.topic.field":   "src_topic",
		"transforms.ins.static.field":  "dc",
		"transforms.ins.static.value":  "eu-1",
		"transforms.rep.type":          "org.apache.kafka.connect.transforms.ReplaceField$Value",
		"transforms.rep.exclude":       "internal",
		"transforms.rep.renames":       "name:full_name",
		"transforms.mask.type":         "org.apache.kafka.connect.transforms.MaskField$Value",
		"transforms.mask.fields":       "ssn",
		"transforms.cast.type":         "org.apache.kafka.connect.transforms.Cast$Value",
		"transforms.cast.spec":         "age:int64,score:string",
		"transforms.route.type":        "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex":       "(.*)-raw",
		"transforms.route.replacement": "$1-clean",
	})
	if err != nil {
		b.Fatal(err)
	}
	defer chain.Close()
	schema := connect.StructBuilder().Name("user").
		Field("id", connect.Int64Schema).
		Field("name", connect.StringSchema).
		Field("ssn", connect.StringSchema).
		Field("age", connect.Int32Schema).
		Field("score", connect.OptionalFloat64Schema).
		Field("internal", connect.OptionalStringSchema).
		MustBuild()
	value := connect.NewStruct(schema).MustPut("id", int64(1)).MustPut("name", "Ann").MustPut("ssn", "123-45-6789").
		MustPut("age", int32(42)).MustPut("score", 9.5).MustPut("internal", "x")
	rec := &connect.Record{Topic: "users-raw", Partition: 0, ValueSchema: schema, Value: value}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out, err := chain.Apply(rec)
		if err != nil || out.Topic != "users-clean" {
			b.Fatalf("%v %v", out, err)
		}
	}
}

// BenchmarkChainFileLine is the chain of the bench's SMT workload, applied
// to a FileStream line: Hoist, Insert, ValueToKey, ExtractField$Key, RegexRouter.
func BenchmarkChainFileLine(b *testing.B) {
	reg := transformRegistry(b)
	chain, err := BuildTransformChain(reg, map[string]string{
		"transforms":                     "hoist,insert,tokey,extract,route",
		"transforms.hoist.type":          "org.apache.kafka.connect.transforms.HoistField$Value",
		"transforms.hoist.field":         "line",
		"transforms.insert.type":         "org.apache.kafka.connect.transforms.InsertField$Value",
		"transforms.insert.static.field": "origin",
		"transforms.insert.static.value": "bench",
		"transforms.tokey.type":          "org.apache.kafka.connect.transforms.ValueToKey",
		"transforms.tokey.fields":        "line",
		"transforms.extract.type":        "org.apache.kafka.connect.transforms.ExtractField$Key",
		"transforms.extract.field":       "line",
		"transforms.route.type":          "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex":         "(.*)",
		"transforms.route.replacement":   "$1-routed",
	})
	if err != nil {
		b.Fatal(err)
	}
	defer chain.Close()
	b.ReportAllocs()
	for b.Loop() {
		rec := &connect.Record{Topic: "lines", Partition: -1, ValueSchema: connect.StringSchema, Value: "line-0000001 some payload text here"}
		out, err := chain.Apply(rec)
		if err != nil || out.Topic != "lines-routed" {
			b.Fatalf("%v %v", out, err)
		}
	}
}
