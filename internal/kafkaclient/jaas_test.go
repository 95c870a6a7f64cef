package kafkaclient

import (
	"maps"
	"strings"
	"testing"
)

func TestParseJAAS(t *testing.T) {
	cases := []struct {
		in     string
		module string
		flag   string
		opts   map[string]string
	}{
		{`org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret";`,
			PlainLoginModule, "required", map[string]string{"username": "alice", "password": "alice-secret"}},
		{"  org.apache.kafka.common.security.scram.ScramLoginModule REQUIRED\n\tusername=bob\n password='p\\\"w;\\\\x\\n' tokenauth=\"true\" ;  ",
			ScramLoginModule, "required", map[string]string{"username": "bob", "password": "p\"w;\\x\n", "tokenauth": "true"}},
		{`/* comment */ a.B optional // trailing
		  key_1="v" $k-2=word-with-dashes_and.dots;`,
			"a.B", "optional", map[string]string{"key_1": "v", "$k-2": "word-with-dashes_and.dots"}},
		{`m sufficient k="\101\7x";`, "m", "sufficient", map[string]string{"k": "A\ax"}},
		{`m Requisite;`, "m", "requisite", map[string]string{}},
		{`m required k="";`, "m", "required", map[string]string{"k": ""}},
	}
	for _, c := range cases {
		es, err := ParseJAAS(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if len(es) != 1 || es[0].LoginModule != c.module || es[0].Flag != c.flag || !maps.Equal(es[0].Options, c.opts) {
			t.Errorf("%q: got %+v", c.in, es)
		}
	}
}

func TestParseJAASMultipleModules(t *testing.T) {
	es, err := ParseJAAS(`a required x="1"; b optional;`)
	if err != nil || len(es) != 2 || es[1].LoginModule != "b" {
		t.Fatalf("got %+v %v", es, err)
	}
}

func TestParseJAASErrors(t *testing.T) {
	cases := map[string]string{
		``:                           "Login module not specified in JAAS config",
		`  // only a comment`:        "Login module not specified in JAAS config",
		`m`:                          "Login module control flag not specified in JAAS config",
		`m mandatory;`:               "Invalid login module control flag 'mandatory' in JAAS config",
		`m required username="a"`:    "JAAS config entry not terminated by semi-colon",
		`m required username;`:       "Value not specified for key 'username' in JAAS config",
		`m required username=;`:      "Value not specified for key 'username' in JAAS config",
		`m required port=9092;`:      "Value not specified for key 'port' in JAAS config",
		`m required k=-1;`:           "Value not specified for key 'k' in JAAS config",
		`m required username="a" =;`: "Value not specified for key 'null' in JAAS config", // Java's sval of a character token
	}
	for in, want := range cases {
		_, err := ParseJAAS(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", in, err, want)
		}
	}
}

func FuzzParseJAAS(f *testing.F) {
	f.Add(`org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="b";`)
	f.Add(`m required k='\'' /* x */ j=v;`)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseJAAS(s) // must not panic or hang
	})
}
