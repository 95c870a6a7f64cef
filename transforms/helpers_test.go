package transforms

import (
	"strings"
	"testing"

	"github.com/ferryhq/ferry/connect"
)

func registry(t testing.TB) *connect.Registry {
	t.Helper()
	reg, err := connect.NewRegistry(Plugins()...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// newTransform configures the transform named class (an alias works too).
func newTransform(t testing.TB, class string, props map[string]string) connect.Transformation {
	t.Helper()
	p, ok := registry(t).Lookup(class, connect.KindTransformation)
	if !ok {
		t.Fatalf("no transform %s", class)
	}
	tr := p.New().(connect.Transformation)
	if err := tr.Configure(props); err != nil {
		t.Fatalf("configure %s: %v", class, err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

func configureErr(t *testing.T, class string, props map[string]string) string {
	t.Helper()
	p, ok := registry(t).Lookup(class, connect.KindTransformation, connect.KindPredicate)
	if !ok {
		t.Fatalf("no plugin %s", class)
	}
	var err error
	switch x := p.New().(type) {
	case connect.Transformation:
		err = x.Configure(props)
	case connect.Predicate:
		err = x.Configure(props)
	}
	if err == nil {
		t.Fatalf("%s accepted %v", class, props)
	}
	return err.Error()
}

func apply(t *testing.T, tr connect.Transformation, rec *connect.Record) *connect.Record {
	t.Helper()
	out, err := tr.Apply(rec)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return out
}

func applyErr(t *testing.T, tr connect.Transformation, rec *connect.Record) string {
	t.Helper()
	out, err := tr.Apply(rec)
	if err == nil {
		t.Fatalf("apply succeeded: %+v", out)
	}
	return err.Error()
}

func wantContains(t *testing.T, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Fatalf("got %q, want it to contain %q", got, want)
	}
}

func wantEqual(t *testing.T, got, want any) {
	t.Helper()
	if !connect.ValuesEqual(got, want) {
		t.Fatalf("got %#v (%s), want %#v (%s)", got, connect.FormatValue(got), want, connect.FormatValue(want))
	}
}

func fieldNames(s *connect.Schema) string {
	var names []string
	for _, f := range s.Fields {
		n := f.Name + ":" + string(f.Schema.Type)
		if f.Schema.Optional {
			n += "?"
		}
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

// person is a struct schema used across tests.
var personSchema = connect.StructBuilder().Name("person").Version(3).
	Field("name", connect.StringSchema).
	Field("age", connect.OptionalInt32Schema).
	Field("ssn", connect.StringSchema).
	MustBuild()

func person(name string, age any, ssn string) *connect.Struct {
	st := connect.NewStruct(personSchema).MustPut("name", name).MustPut("ssn", ssn)
	if age != nil {
		st.MustPut("age", age)
	}
	return st
}

func valueRec(schema *connect.Schema, v any) *connect.Record {
	return &connect.Record{Topic: "orders", Partition: 2, ValueSchema: schema, Value: v}
}
