package converters

import (
	"testing"

	"github.com/ferryhq/ferry/connect"
)

func TestPluginsRegisterAndMatchKinds(t *testing.T) {
	r, err := connect.NewRegistry(Plugins()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"JsonConverter", "StringConverter", "ByteArrayConverter", "LongConverter",
		"org.apache.kafka.connect.json.JsonConverter"} {
		p, ok := r.Lookup(name, connect.KindConverter)
		if !ok {
			t.Fatalf("%s not found", name)
		}
		if _, ok := p.New().(connect.Converter); !ok {
			t.Fatalf("%s: not a Converter", name)
		}
	}
	for _, p := range r.Plugins(connect.KindHeaderConverter) {
		if _, ok := p.New().(connect.HeaderConverter); !ok {
			t.Fatalf("%s: not a HeaderConverter", p.Class)
		}
		if err := p.ConfigDefOf().Err(); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := r.Lookup("SimpleHeaderConverter", connect.KindHeaderConverter); !ok {
		t.Fatal("SimpleHeaderConverter missing")
	}
}
