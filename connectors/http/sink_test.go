package httpsink

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/connectors/http/httptest"
	"go.uber.org/goleak"
)

// taskCtx is a SinkTaskContext with an optional errant record reporter.
type taskCtx struct {
	mu       sync.Mutex
	reported []*connect.SinkRecord
	errs     []error
	withDLQ  bool
	retry    time.Duration
}

func (c *taskCtx) ConnectorName() string                 { return "http-test" }
func (c *taskCtx) TaskID() int                           { return 0 }
func (c *taskCtx) Logger() *slog.Logger                  { return slog.New(slog.DiscardHandler) }
func (c *taskCtx) Assignment() []connect.TopicPartition  { return nil }
func (c *taskCtx) Seek(map[connect.TopicPartition]int64) {}
func (c *taskCtx) Pause(...connect.TopicPartition)       {}
func (c *taskCtx) Resume(...connect.TopicPartition)      {}
func (c *taskCtx) SetRetryTimeout(d time.Duration)       { c.retry = d }
func (c *taskCtx) RequestCommit()                        {}
func (c *taskCtx) ErrantRecordReporter() connect.ErrantRecordReporter {
	if !c.withDLQ {
		return nil
	}
	return c
}
func (c *taskCtx) Report(_ context.Context, rec *connect.SinkRecord, err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reported = append(c.reported, rec)
	c.errs = append(c.errs, err)
	return nil
}

type bed struct {
	recv  *httptest.Receiver
	nginx *httptest.Nginx
}

func newBed(t *testing.T) *bed {
	r := httptest.StartReceiver(t)
	return &bed{recv: r, nginx: httptest.StartNginx(t, r.Addr())}
}

func startTask(t *testing.T, f flavour, cfg map[string]string, tc *taskCtx) *Task {
	t.Helper()
	task := &Task{flavour: f}
	if err := task.Start(context.Background(), tc, cfg); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = task.Stop() })
	return task
}

func rec(topic string, offset int64, key, value any) *connect.SinkRecord {
	return &connect.SinkRecord{Record: connect.Record{Topic: topic, Partition: 0, Key: key, Value: value,
		Timestamp: time.UnixMilli(1_700_000_000_000 + offset)}, KafkaOffset: offset}
}

var pointSchema = connect.StructBuilder().Field("id", connect.Int32Schema).Field("name", connect.OptionalStringSchema).MustBuild()

func point(id int32, name string) *connect.Struct {
	return connect.NewStruct(pointSchema).MustPut("id", id).MustPut("name", name)
}

func structRec(offset int64, id int32, name string) *connect.SinkRecord {
	r := rec("points", offset, nil, point(id, name))
	r.ValueSchema = pointSchema
	return r
}

func equalBodies(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d requests %q, want %d %q", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d body:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
}

func TestAivenBodiesByteForByte(t *testing.T) {
	b := newBed(t)
	records := []*connect.SinkRecord{
		rec("t", 0, nil, "plain text"),
		structRec(1, 1, "a\"b"),
		rec("t", 2, nil, map[string]any{"k": int64(7)}),
		rec("t", 3, nil, `{"already":"json"}`),
		structRec(4, 2, "ü"),
	}
	t.Run("one request per record", func(t *testing.T) {
		b.recv.Reset()
		task := startTask(t, aiven, map[string]string{HTTPURL: b.nginx.URL + "/ingest", HTTPAuthorizationType: "none"}, &taskCtx{})
		if err := task.Put(context.Background(), records); err != nil {
			t.Fatal(err)
		}
		equalBodies(t, b.recv.Bodies(), []string{"plain text", `{"id":1,"name":"a\"b"}`, `{"k":7}`, `{"already":"json"}`, `{"id":2,"name":"ü"}`})
		for _, q := range b.recv.Requests() {
			if q.Method != http.MethodPost || q.Header.Get("Content-Type") != "" || q.Header.Get("Authorization") != "" {
				t.Errorf("request %s with Content-Type %q, Authorization %q", q.Method, q.Header.Get("Content-Type"), q.Header.Get("Authorization"))
			}
		}
	})
	t.Run("default batch shape", func(t *testing.T) {
		b.recv.Reset()
		task := startTask(t, aiven, map[string]string{HTTPURL: b.nginx.URL + "/ingest", HTTPAuthorizationType: "none",
			BatchingEnabled: "true", BatchMaxSize: "2"}, &taskCtx{})
		if err := task.Put(context.Background(), records); err != nil {
			t.Fatal(err)
		}
		equalBodies(t, b.recv.Bodies(), []string{
			"plain text\n{\"id\":1,\"name\":\"a\\\"b\"}\n",
			"{\"k\":7}\n{\"already\":\"json\"}\n",
			"{\"id\":2,\"name\":\"ü\"}\n",
		})
	})
	t.Run("prefix suffix separator untrimmed", func(t *testing.T) {
		b.recv.Reset()
		task := startTask(t, aiven, map[string]string{HTTPURL: b.nginx.URL + "/ingest", HTTPAuthorizationType: "static",
			HTTPHeadersAuth: "Bearer static-token", HTTPHeadersContentType: "application/json",
			HTTPHeadersAdditional: "X-API-Key:k-123,X-Tenant: blue",
			BatchingEnabled:       "true", BatchMaxSize: "3", BatchPrefix: "{\"records\":[ ", BatchSuffix: " ]}\n", BatchSeparator: " ,\n "}, &taskCtx{})
		if err := task.Put(context.Background(), records[1:]); err != nil {
			t.Fatal(err)
		}
		equalBodies(t, b.recv.Bodies(), []string{
			"{\"records\":[ {\"id\":1,\"name\":\"a\\\"b\"} ,\n {\"k\":7} ,\n {\"already\":\"json\"} ]}\n",
			"{\"records\":[ {\"id\":2,\"name\":\"ü\"} ]}\n",
		})
		q := b.recv.Requests()[0]
		for name, want := range map[string]string{"Authorization": "Bearer static-token", "Content-Type": "application/json", "X-Api-Key": "k-123", "X-Tenant": "blue"} {
			if got := q.Header.Get(name); got != want {
				t.Errorf("header %s = %q, want %q", name, got, want)
			}
		}
	})
	t.Run("unsupported value and null value", func(t *testing.T) {
		task := startTask(t, aiven, map[string]string{HTTPURL: b.nginx.URL + "/ingest", HTTPAuthorizationType: "none"}, &taskCtx{})
		err := task.Put(context.Background(), []*connect.SinkRecord{rec("t", 9, nil, int32(5))})
		if err == nil || !strings.Contains(err.Error(), "Record value must be a String, a Schema Struct or implement `java.util.Map`, but class java.lang.Integer is given") {
			t.Errorf("int value: %v", err)
		}
		if err := task.Put(context.Background(), []*connect.SinkRecord{rec("t", 10, "k", nil)}); err == nil || !strings.Contains(err.Error(), "Record value must not be null") {
			t.Errorf("null value: %v", err)
		}
	})
}

func TestConfluentBodiesByteForByte(t *testing.T) {
	b := newBed(t)
	t.Run("json array per topic and key URL", func(t *testing.T) {
		b.recv.Reset()
		task := startTask(t, confluent, map[string]string{HTTPAPIURL: b.nginx.URL + "/api/${topic}/${key}", RequestMethod: "put",
			RequestBodyFormat: "json", BatchJSONAsArray: "true", BatchMaxSize: "10"}, &taskCtx{})
		records := []*connect.SinkRecord{
			rec("orders", 0, "k1", map[string]any{"n": int64(1)}),
			rec("orders", 1, "k 2", map[string]any{"n": int64(2)}),
			rec("orders", 2, "k1", `{"n":3}`),
			rec("orders", 3, "k1", "not json"),
		}
		if err := task.Put(context.Background(), records); err != nil {
			t.Fatal(err)
		}
		got := b.recv.Requests()
		if len(got) != 2 {
			t.Fatalf("got %d requests, want 2", len(got))
		}
		if got[0].Method != http.MethodPut || got[0].Path != "/api/orders/k1" || got[0].Body != `[{"n":1},{"n":3},"not json"]` {
			t.Errorf("first request %s %s %q", got[0].Method, got[0].Path, got[0].Body)
		}
		if got[1].Path != "/api/orders/k%202" || got[1].Body != `[{"n":2}]` {
			t.Errorf("second request %s %q", got[1].Path, got[1].Body)
		}
		if ct := got[0].Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
	})
	t.Run("string format with prefix suffix separator", func(t *testing.T) {
		b.recv.Reset()
		task := startTask(t, confluent, map[string]string{HTTPAPIURL: b.nginx.URL + "/api", BatchMaxSize: "2",
			BatchPrefix: "<", BatchSuffix: ">", BatchSeparator: " | ", Headers: "X-API-Key:k-123|X-Tenant:blue"}, &taskCtx{})
		records := []*connect.SinkRecord{structRec(0, 1, "x"), rec("t", 1, nil, "plain"), rec("t", 2, nil, int64(42))}
		if err := task.Put(context.Background(), records); err != nil {
			t.Fatal(err)
		}
		equalBodies(t, b.recv.Bodies(), []string{"<Struct{id=1,name=x} | plain>", "<42>"})
		if q := b.recv.Requests()[0]; q.Method != http.MethodPost || q.Header.Get("X-Api-Key") != "k-123" || q.Header.Get("X-Tenant") != "blue" {
			t.Errorf("request %s headers %v", q.Method, q.Header)
		}
	})
	t.Run("defaults: one record per request", func(t *testing.T) {
		b.recv.Reset()
		task := startTask(t, confluent, map[string]string{HTTPAPIURL: b.nginx.URL + "/api"}, &taskCtx{})
		if err := task.Put(context.Background(), []*connect.SinkRecord{rec("t", 0, nil, "a"), rec("t", 1, nil, "b")}); err != nil {
			t.Fatal(err)
		}
		equalBodies(t, b.recv.Bodies(), []string{"a", "b"})
	})
	t.Run("batch key pattern splits batches", func(t *testing.T) {
		b.recv.Reset()
		task := startTask(t, confluent, map[string]string{HTTPAPIURL: b.nginx.URL + "/api", BatchMaxSize: "5", BatchKeyPattern: "${key}"}, &taskCtx{})
		records := []*connect.SinkRecord{rec("t", 0, "a", "1"), rec("t", 1, "b", "2"), rec("t", 2, "a", "3")}
		if err := task.Put(context.Background(), records); err != nil {
			t.Fatal(err)
		}
		equalBodies(t, b.recv.Bodies(), []string{"1,3", "2"})
	})
	t.Run("tombstones", func(t *testing.T) {
		b.recv.Reset()
		task := startTask(t, confluent, map[string]string{HTTPAPIURL: b.nginx.URL + "/api/${key}", BehaviorOnNullValues: "delete", BatchMaxSize: "5"}, &taskCtx{})
		records := []*connect.SinkRecord{rec("t", 0, "a", "1"), rec("t", 1, "a", nil), rec("t", 2, "a", "3")}
		if err := task.Put(context.Background(), records); err != nil {
			t.Fatal(err)
		}
		got := b.recv.Requests()
		if len(got) != 3 || got[0].Body != "1" || got[1].Method != http.MethodDelete || got[1].Path != "/api/a" || got[1].Body != "" || got[2].Body != "3" {
			t.Errorf("requests %+v", got)
		}
	})
}

func TestBasicAuthThroughNginx(t *testing.T) {
	b := newBed(t)
	task := startTask(t, confluent, map[string]string{HTTPAPIURL: b.nginx.URL + "/basic/in", AuthType: "BASIC",
		ConnectionUser: httptest.NginxUser, ConnectionPassword: httptest.NginxPassword}, &taskCtx{})
	if err := task.Put(context.Background(), []*connect.SinkRecord{rec("t", 0, nil, "hello")}); err != nil {
		t.Fatal(err)
	}
	equalBodies(t, b.recv.Bodies(), []string{"hello"})
	if got, want := b.recv.Requests()[0].Header.Get("Authorization"), httptest.BasicAuth(httptest.NginxUser, httptest.NginxPassword); got != want {
		t.Errorf("Authorization %q, want %q", got, want)
	}

	// A wrong password is refused by nginx (401): not retriable, the task fails.
	bad := startTask(t, confluent, map[string]string{HTTPAPIURL: b.nginx.URL + "/basic/in", AuthType: "BASIC",
		ConnectionUser: httptest.NginxUser, ConnectionPassword: "wrong", MaxRetries: "1", RetryBackoff: "1"}, &taskCtx{})
	err := bad.Put(context.Background(), []*connect.SinkRecord{rec("t", 1, nil, "nope")})
	if err == nil || connect.IsRetriable(err) || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong password: %v", err)
	}
}

func TestAPIKeyHeader(t *testing.T) {
	b := newBed(t)
	ok := startTask(t, aiven, map[string]string{HTTPURL: b.nginx.URL + "/apikey/in", HTTPAuthorizationType: "none", HTTPHeadersAdditional: "X-API-Key:" + b.recv.APIKey}, &taskCtx{})
	if err := ok.Put(context.Background(), []*connect.SinkRecord{rec("t", 0, nil, "with key")}); err != nil {
		t.Fatal(err)
	}
	missing := startTask(t, aiven, map[string]string{HTTPURL: b.nginx.URL + "/apikey/in", HTTPAuthorizationType: "none", MaxRetries: "0"}, &taskCtx{})
	if err := missing.Put(context.Background(), []*connect.SinkRecord{rec("t", 1, nil, "no key")}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("without key: %v", err)
	}
	equalBodies(t, b.recv.Bodies(), []string{"with key"})
}

func TestOAuth2TokenFetchCacheAndRefresh(t *testing.T) {
	b := newBed(t)
	base := map[string]string{HTTPURL: b.nginx.URL + "/bearer/in", HTTPAuthorizationType: "oauth2",
		OAuth2AccessTokenURL: b.nginx.URL + "/token", OAuth2ClientID: b.recv.ClientID, OAuth2ClientSecret: b.recv.ClientSecret,
		MaxRetries: "0"}
	task := startTask(t, aiven, base, &taskCtx{})
	put := func(off int64) {
		t.Helper()
		if err := task.Put(context.Background(), []*connect.SinkRecord{rec("t", off, nil, "v")}); err != nil {
			t.Fatalf("put %d: %v", off, err)
		}
	}
	put(0)
	put(1)
	n, forms, auths := b.recv.TokenFetches()
	if n != 1 {
		t.Fatalf("%d token fetches for two puts, want 1 (cached)", n)
	}
	if forms[0] != "grant_type=client_credentials" || auths[0] != httptest.BasicAuth(b.recv.ClientID, b.recv.ClientSecret) {
		t.Errorf("token request form %q, Authorization %q", forms[0], auths[0])
	}
	if got := b.recv.Requests()[0].Header.Get("Authorization"); got != "Bearer tok-1" {
		t.Errorf("Authorization %q", got)
	}

	// A revoked token: the 401 makes the task fetch a new one and resend once.
	b.recv.RevokeTokens()
	put(2)
	if n, _, _ := b.recv.TokenFetches(); n != 2 {
		t.Errorf("%d token fetches after a 401, want 2", n)
	}
	if len(b.recv.Bodies()) != 3 {
		t.Errorf("%d accepted requests, want 3", len(b.recv.Bodies()))
	}

	// An expiring token is renewed before use.
	b.recv.SetTokenLifetime(1)
	b.recv.RevokeTokens()
	put(3) // 401, fetch tok-3 with a 1 s lifetime
	time.Sleep(1100 * time.Millisecond)
	put(4) // expired: fetch tok-4 without a 401 first
	if n, _, _ := b.recv.TokenFetches(); n != 4 {
		t.Errorf("%d token fetches, want 4", n)
	}
	reqs := b.recv.Requests()
	if last := reqs[len(reqs)-1]; last.Header.Get("Authorization") != "Bearer tok-4" || last.Header.Get("X-Test-Status") != "" {
		t.Errorf("last request with %q, status %q", last.Header.Get("Authorization"), last.Header.Get("X-Test-Status"))
	}

	// URL mode puts the credentials and the scope in the form.
	urlMode := map[string]string{}
	for k, v := range base {
		urlMode[k] = v
	}
	urlMode[OAuth2ClientAuthMode] = "url"
	urlMode[OAuth2ClientScope] = "read write"
	task2 := startTask(t, aiven, urlMode, &taskCtx{})
	if err := task2.Put(context.Background(), []*connect.SinkRecord{rec("t", 5, nil, "v")}); err != nil {
		t.Fatal(err)
	}
	_, forms, auths = b.recv.TokenFetches()
	if want := "grant_type=client_credentials&scope=read+write&client_id=ferry-client&client_secret=s3cret%2F%2B"; forms[len(forms)-1] != want || auths[len(auths)-1] != "" {
		t.Errorf("url mode form %q (want %q), Authorization %q", forms[len(forms)-1], want, auths[len(auths)-1])
	}

	// Confluent's OAUTH2 sends scope=any by default and always Bearer.
	task3 := startTask(t, confluent, map[string]string{HTTPAPIURL: b.nginx.URL + "/bearer/in", AuthType: "OAUTH2",
		OAuth2TokenURL: b.nginx.URL + "/token", OAuth2ClientID: b.recv.ClientID, OAuth2ClientSecret: b.recv.ClientSecret}, &taskCtx{})
	if err := task3.Put(context.Background(), []*connect.SinkRecord{rec("t", 6, nil, "v")}); err != nil {
		t.Fatal(err)
	}
	if _, forms, _ = b.recv.TokenFetches(); forms[len(forms)-1] != "grant_type=client_credentials&scope=any" {
		t.Errorf("confluent form %q", forms[len(forms)-1])
	}
}

func TestRetriesHonourRetryAfter(t *testing.T) {
	b := newBed(t)
	task := startTask(t, confluent, map[string]string{HTTPAPIURL: b.nginx.URL + "/api", MaxRetries: "3", RetryBackoff: "10",
		RetryBackoffPolicy: "CONSTANT_VALUE"}, &taskCtx{})
	b.recv.Script(
		httptest.Reply{Status: 429, RetryAfter: "1"},
		httptest.Reply{Status: 503, RetryAfter: time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)},
		httptest.Reply{Status: 500},
	)
	start := time.Now()
	if err := task.Put(context.Background(), []*connect.SinkRecord{rec("t", 0, nil, "x")}); err != nil {
		t.Fatal(err)
	}
	// 1 s for the seconds form, then until the date (1–2 s more: the header has
	// whole seconds), then 10 ms.
	if el := time.Since(start); el < 1900*time.Millisecond {
		t.Errorf("retries took %v; Retry-After asked for about 2 s or more", el)
	}
	reqs := b.recv.Requests()
	if len(reqs) != 4 || len(b.recv.Bodies()) != 1 {
		t.Errorf("%d requests, %d accepted; want 4 and 1", len(reqs), len(b.recv.Bodies()))
	}
}

func TestUnavailableServerRedeliversWithoutDuplicates(t *testing.T) {
	b := newBed(t)
	tc := &taskCtx{}
	task := startTask(t, aiven, map[string]string{HTTPURL: b.nginx.URL + "/in", HTTPAuthorizationType: "none", MaxRetries: "0",
		BatchingEnabled: "true", BatchMaxSize: "2", KafkaRetryBackoff: "250"}, tc)
	batch := []*connect.SinkRecord{rec("t", 0, nil, "a"), rec("t", 1, nil, "b"), rec("t", 2, nil, "c"), rec("t", 3, nil, "d")}
	b.recv.Script(httptest.Reply{Status: 200}, httptest.Reply{Status: 503})
	err := task.Put(context.Background(), batch)
	if !connect.IsRetriable(err) {
		t.Fatalf("503 after the retries: %v, want a Retriable error", err)
	}
	if tc.retry != 250*time.Millisecond {
		t.Errorf("retry timeout %v, want kafka.retry.backoff.ms", tc.retry)
	}
	// The server goes away entirely: connection refused is retriable too.
	b.nginx.Stop(t)
	if err := task.Put(context.Background(), batch); !connect.IsRetriable(err) {
		t.Fatalf("server down: %v, want a Retriable error", err)
	}
	b.nginx.Start(t)
	if err := task.Put(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	equalBodies(t, b.recv.Bodies(), []string{"a\nb\n", "c\nd\n"})
}

func TestRefusedRecordsGoToTheErrantReporter(t *testing.T) {
	b := newBed(t)
	tc := &taskCtx{withDLQ: true}
	task := startTask(t, aiven, map[string]string{HTTPURL: b.nginx.URL + "/in", HTTPAuthorizationType: "none", MaxRetries: "1", RetryBackoff: "1"}, tc)
	b.recv.Script(httptest.Reply{Status: 400, Body: `{"error":"bad record"}`}, httptest.Reply{Status: 400, Body: `{"error":"bad record"}`})
	batch := []*connect.SinkRecord{rec("t", 0, nil, "bad"), rec("t", 1, nil, "good")}
	if err := task.Put(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if len(tc.reported) != 1 || tc.reported[0].KafkaOffset != 0 {
		t.Fatalf("reported %v", tc.reported)
	}
	if msg := tc.errs[0].Error(); !strings.Contains(msg, "400") || !strings.Contains(msg, `{"error":"bad record"}`) {
		t.Errorf("reported error %q lacks the response", msg)
	}
	equalBodies(t, b.recv.Bodies(), []string{"good"})

	// Without a reporter the refusal fails the task (not retriable).
	noDLQ := startTask(t, confluent, map[string]string{HTTPAPIURL: b.nginx.URL + "/in", MaxRetries: "0"}, &taskCtx{})
	b.recv.Script(httptest.Reply{Status: 422})
	err := noDLQ.Put(context.Background(), []*connect.SinkRecord{rec("t", 2, nil, "x")})
	var re *requestError
	if !errors.As(err, &re) || connect.IsRetriable(err) {
		t.Errorf("422 without reporter: %v", err)
	}
	// behavior.on.error=log skips them.
	logOnly := startTask(t, confluent, map[string]string{HTTPAPIURL: b.nginx.URL + "/in", MaxRetries: "0", BehaviorOnError: "log"}, &taskCtx{})
	b.recv.Script(httptest.Reply{Status: 422})
	if err := logOnly.Put(context.Background(), []*connect.SinkRecord{rec("t", 3, nil, "x")}); err != nil {
		t.Errorf("behavior.on.error=log: %v", err)
	}
}

func TestConfigRules(t *testing.T) {
	for name, c := range map[string]struct {
		f    flavour
		cfg  map[string]string
		want string
	}{
		"static without header":      {aiven, map[string]string{HTTPURL: "http://x/", HTTPAuthorizationType: "static"}, "Must be present when http.authorization.type = STATIC"},
		"apikey type":                {aiven, map[string]string{HTTPURL: "http://x/", HTTPAuthorizationType: "apikey"}, "String must be one of"},
		"batching with all":          {aiven, map[string]string{HTTPURL: "http://x/", HTTPAuthorizationType: "none", BatchingEnabled: "true", ErrorsTolerance: "all"}, "Cannot use errors.tolerance when batching is enabled"},
		"oauth2 without id":          {aiven, map[string]string{HTTPURL: "http://x/", HTTPAuthorizationType: "oauth2", OAuth2AccessTokenURL: "http://x/t"}, "oauth2.client.id"},
		"bad url":                    {aiven, map[string]string{HTTPURL: "ftp://x/", HTTPAuthorizationType: "none"}, "should be valid URL"},
		"array with string":          {confluent, map[string]string{HTTPAPIURL: "http://x/", BatchJSONAsArray: "true"}, "needs request.body.format=json"},
		"bad status ranges":          {confluent, map[string]string{HTTPAPIURL: "http://x/", RetryOnStatusCodes: "5xx"}, "not a status code"},
		"reporter without bootstrap": {confluent, map[string]string{HTTPAPIURL: "http://x/", ReporterErrorTopic: "errs"}, "reporter.bootstrap.servers"},
		"record field template":      {confluent, map[string]string{HTTPAPIURL: "http://x/${value.id}"}, "only the ${topic} and ${key}"},
		"third party auth":           {confluent, map[string]string{HTTPAPIURL: "http://x/", AuthType: "THIRD_PARTY"}, "String must be one of"},
		"reporter sasl":              {confluent, map[string]string{HTTPAPIURL: "http://x/", "reporter.sasl.mechanism": "PLAIN"}, "not supported"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseSettings(c.f, c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
	s, err := parseSettings(confluent, map[string]string{HTTPAPIURL: "http://x/${topic}", RetryOnStatusCodes: "408,429,500-"})
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[int]bool{400: false, 408: true, 429: true, 499: false, 500: true, 503: true} {
		if s.retryStatus(code) != want {
			t.Errorf("retry %d = %v", code, !want)
		}
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"-1":                            0,
		"100000":                        maxWait,
		"Fri, 02 Jan 2026 03:04:15 GMT": 10 * time.Second,
		"Fri, 02 Jan 2026 03:00:00 GMT": 0,
		"soon":                          0,
	} {
		h := http.Header{}
		if v != "" {
			h.Set("Retry-After", v)
		}
		if got := retryAfter(h, now); got != want {
			t.Errorf("Retry-After %q: %v, want %v", v, got, want)
		}
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRetryAfterStretchesTheRedeliveryWait(t *testing.T) {
	b := newBed(t)
	tc := &taskCtx{}
	task := startTask(t, confluent, map[string]string{HTTPAPIURL: b.nginx.URL + "/api", MaxRetries: "0", RetryBackoff: "100"}, tc)
	b.recv.Script(httptest.Reply{Status: 429, RetryAfter: "7"})
	if err := task.Put(context.Background(), []*connect.SinkRecord{rec("t", 0, nil, "x")}); !connect.IsRetriable(err) {
		t.Fatalf("429: %v", err)
	}
	if tc.retry != 7*time.Second {
		t.Errorf("redelivery wait %v, want the server's 7 s", tc.retry)
	}
}

func TestConfluentNullValuesAndTokenHeaders(t *testing.T) {
	b := newBed(t)
	tc := &taskCtx{withDLQ: true}
	failNulls := startTask(t, confluent, map[string]string{HTTPAPIURL: b.nginx.URL + "/api", BehaviorOnNullValues: "fail"}, tc)
	if err := failNulls.Put(context.Background(), []*connect.SinkRecord{rec("t", 0, "k", nil), rec("t", 1, "k", "v")}); err != nil {
		t.Fatal(err)
	}
	if len(tc.reported) != 1 || tc.reported[0].KafkaOffset != 0 || !strings.Contains(tc.errs[0].Error(), "Record value must not be null") {
		t.Errorf("reported %v %v", tc.reported, tc.errs)
	}
	logNulls := startTask(t, confluent, map[string]string{HTTPAPIURL: b.nginx.URL + "/api", BehaviorOnNullValues: "log"}, &taskCtx{})
	if err := logNulls.Put(context.Background(), []*connect.SinkRecord{rec("t", 2, "k", nil)}); err != nil {
		t.Fatal(err)
	}
	equalBodies(t, b.recv.Bodies(), []string{"v"})

	withHeaders := startTask(t, confluent, map[string]string{HTTPAPIURL: b.nginx.URL + "/bearer/in", AuthType: "OAUTH2",
		OAuth2TokenURL: b.nginx.URL + "/token", OAuth2ClientID: b.recv.ClientID, OAuth2ClientSecret: b.recv.ClientSecret,
		OAuth2ClientAuthModeC: "url", OAuth2ClientScope: "", OAuth2ClientHeaders: "X-Tenant:blue|X-Trace:1"}, &taskCtx{})
	if err := withHeaders.Put(context.Background(), []*connect.SinkRecord{rec("t", 3, nil, "x")}); err != nil {
		t.Fatal(err)
	}
	if _, forms, _ := b.recv.TokenFetches(); forms[0] != "grant_type=client_credentials&client_id=ferry-client&client_secret=s3cret%2F%2B" {
		t.Errorf("token form %q", forms[0])
	}
}
