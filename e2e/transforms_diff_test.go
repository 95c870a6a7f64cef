package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferryhq/ferry/internal/testbed"
)

// diffInput is the file both workers' FileStreamSource read: plain ASCII,
// accents, CJK, characters outside the BMP, JSON-special characters and
// an empty line.
var diffInput = []string{
	"alpha",
	"héllo wörld",
	"日本語のテキスト",
	"emoji 😀 and 🚀",
	`with "quotes" and \ backslash`,
	"tab\there",
	"",
	"0",
	"12345678901234567890",
	"-1.5e10",
	"true",
	"null",
	`{"looks":"like json"}`,
	"[1,2,3]",
	"trailing space ",
	" leading space",
	"ÆØÅ æøå ß",
	"Ελληνικά",
	"\u00a0non-breaking\u00a0space",
	"last line",
}

// diffChain is the transformation chain under test; %s is the connector's
// raw topic prefix. HoistField turns the string line into a struct,
// InsertField and ReplaceField change its fields, SetSchemaMetadata names
// the schema, ValueToKey and ExtractField$Key make a key of the text,
// InsertHeader adds a header, and RegexRouter renames the topic when the
// TopicNameMatches predicate holds (a second router, negated, never runs).
const diffChain = `transforms=hoist,insert,rename,meta,tokey,keyfield,hdr,route,never
transforms.hoist.type=org.apache.kafka.connect.transforms.HoistField$Value
transforms.hoist.field=line
transforms.insert.type=org.apache.kafka.connect.transforms.InsertField$Value
transforms.insert.static.field=src
transforms.insert.static.value=file
transforms.rename.type=org.apache.kafka.connect.transforms.ReplaceField$Value
transforms.rename.renames=line:text
transforms.meta.type=org.apache.kafka.connect.transforms.SetSchemaMetadata$Value
transforms.meta.schema.name=ferry.Line
transforms.meta.schema.version=3
transforms.tokey.type=org.apache.kafka.connect.transforms.ValueToKey
transforms.tokey.fields=text
transforms.keyfield.type=org.apache.kafka.connect.transforms.ExtractField$Key
transforms.keyfield.field=text
transforms.hdr.type=org.apache.kafka.connect.transforms.InsertHeader
transforms.hdr.header=origin
transforms.hdr.value.literal=filestream
transforms.route.type=org.apache.kafka.connect.transforms.RegexRouter
transforms.route.regex=(.*)-raw
transforms.route.replacement=$1-routed
transforms.route.predicate=isRaw
transforms.never.type=org.apache.kafka.connect.transforms.RegexRouter
transforms.never.regex=.*
transforms.never.replacement=wrong-topic
transforms.never.predicate=isRouted
transforms.never.negate=true
predicates=isRaw,isRouted
predicates.isRaw.type=org.apache.kafka.connect.transforms.predicates.TopicNameMatches
predicates.isRaw.pattern=.*-raw
predicates.isRouted.type=org.apache.kafka.connect.transforms.predicates.TopicNameMatches
predicates.isRouted.pattern=.*-routed
`

// diffConnector renders a FileStreamSource connector config with the
// chain; schemaless switches key and value to JsonConverter without
// schemas.
func diffConnector(name, file, prefix string, schemaless bool) string {
	s := fmt.Sprintf("name=%s\nconnector.class=FileStreamSource\ntasks.max=1\nfile=%s\ntopic=%s-raw\n", name, file, prefix)
	if schemaless {
		s += "key.converter=org.apache.kafka.connect.json.JsonConverter\nkey.converter.schemas.enable=false\n" +
			"value.converter=org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable=false\n"
	}
	return s + diffChain
}

// parseProps reads the simple key=value lines diffConnector writes.
func parseProps(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// connectLib returns the Apache Connect 4.1.1 jars directory, skipping the
// test when the reference worker cannot run here.
func connectLib(t *testing.T) string {
	t.Helper()
	if !testbed.IsRealKafka() {
		t.Skip("needs a real broker reachable by the Apache worker (FERRY_TEST_KAFKA)")
	}
	cache := os.Getenv("FERRY_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "ferry")
	}
	lib := filepath.Join(cache, "connect-4.1.1", "lib")
	if _, err := os.Stat(filepath.Join(lib, "connect-runtime-4.1.1.jar")); err != nil {
		t.Skipf("Apache Connect 4.1.1 jars not found in %s (scripts/testbed.sh install)", lib)
	}
	if _, err := exec.LookPath(javaBin()); err != nil {
		t.Skipf("java not found: %v", err)
	}
	return lib
}

func javaBin() string {
	if j := os.Getenv("JAVA"); j != "" {
		return j
	}
	return "java"
}

// startApacheStandalone runs Apache's ConnectStandalone with the given
// worker and connector property files; it is stopped at test end.
func startApacheStandalone(t *testing.T, lib, dir, workerProps string, connProps ...string) {
	t.Helper()
	log4j, err := filepath.Abs("../scripts/testbed/log4j2-quiet.properties")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-Xmx512m", "-Dlog4j2.configurationFile=" + log4j,
		"-cp", filepath.Join(lib, "*"), "org.apache.kafka.connect.cli.ConnectStandalone", workerProps}
	cmd := exec.Command(javaBin(), append(args, connProps...)...)
	cmd.Dir = dir
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("Apache Connect log:\n%s", out.String())
		}
	})
}

// recordView is what the comparison looks at: key, value and headers, not
// timestamps.
func recordView(r *kgo.Record) string {
	hs := make([]string, len(r.Headers))
	for i, h := range r.Headers {
		hs[i] = fmt.Sprintf("%q=%q", h.Key, h.Value)
	}
	return fmt.Sprintf("key=%s\nvalue=%s\nheaders=[%s]", r.Key, r.Value, strings.Join(hs, ","))
}

// TestTransformsMatchApache runs the same FileStreamSource connector and
// transformation chain on Apache Kafka Connect 4.1.1 and on Ferry, and
// checks that both produce byte-identical keys and values and the same
// headers, with JsonConverter schemas on and off.
func TestTransformsMatchApache(t *testing.T) {
	lib := connectLib(t)
	bootstrap := testbed.Kafka(t)
	dir := t.TempDir()
	input := filepath.Join(dir, "input.txt")
	writeFile(t, input, strings.Join(diffInput, "\n")+"\n")

	type variant struct {
		name       string
		schemaless bool
		apache     string // topic prefix of the Apache run
		ferry      string // ... and of Ferry's
	}
	variants := []variant{{name: "schemas"}, {name: "schemaless", schemaless: true}}
	for i := range variants {
		v := &variants[i]
		v.apache = testbed.UniqueName(t, "apache-"+v.name)
		v.ferry = testbed.UniqueName(t, "ferry-"+v.name)
		testbed.CreateTopic(t, bootstrap, v.apache+"-routed", 1)
		testbed.CreateTopic(t, bootstrap, v.ferry+"-routed", 1)
	}

	// Apache first: one JVM runs both variants.
	port := testbed.FreePort(t)
	workerProps := filepath.Join(dir, "apache-worker.properties")
	writeFile(t, workerProps, fmt.Sprintf(`bootstrap.servers=%s
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
offset.storage.file.filename=%s
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:%d
`, bootstrap, filepath.Join(dir, "apache.offsets"), port))
	var apacheConns []string
	ferryConns := make([]map[string]string, 0, len(variants))
	for _, v := range variants {
		f := filepath.Join(dir, "apache-"+v.name+".properties")
		writeFile(t, f, diffConnector(testbed.UniqueName(t, "apache-"+v.name), input, v.apache, v.schemaless))
		apacheConns = append(apacheConns, f)
		ferryConns = append(ferryConns, parseProps(diffConnector(testbed.UniqueName(t, "ferry-"+v.name), input, v.ferry, v.schemaless)))
	}
	startApacheStandalone(t, lib, dir, workerProps, apacheConns...)
	// Ferry meanwhile, in this process, with the same worker converters.
	startWorkerIn(t, bootstrap, t.TempDir(), nil, ferryConns...)

	n := len(diffInput)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			want := testbed.ConsumeN(t, bootstrap, v.apache+"-routed", n, 90*time.Second)
			got := testbed.ConsumeN(t, bootstrap, v.ferry+"-routed", n, 60*time.Second)
			for i := range n {
				if w, g := recordView(want[i]), recordView(got[i]); w != g {
					t.Errorf("record %d (%q) differs:\napache %s\nferry  %s", i, diffInput[i], w, g)
				}
				if !bytes.Equal(want[i].Value, got[i].Value) || !bytes.Equal(want[i].Key, got[i].Key) {
					t.Errorf("record %d: bytes differ", i)
				}
			}
			if t.Failed() {
				return
			}
			t.Logf("%d records identical; sample value %s", n, want[1].Value)
		})
	}
}
