package kafkaclient

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const oauthModule = `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required`

// firstMessage returns the client's first SASL message of props' mechanism.
func firstMessage(t *testing.T, props map[string]string) string {
	t.Helper()
	mech, err := buildSASL(props, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, msg, err := mech.Authenticate(context.Background(), "127.0.0.1:9092")
	if err != nil {
		t.Fatal(err)
	}
	return string(msg)
}

func TestOAuthClientCredentials(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		id, secret, ok := r.BasicAuth()
		if err := r.ParseForm(); err != nil || !ok || id != "ferry" || secret != "s3cret" || r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("scope") != "kafka" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "tok-123", "token_type": "Bearer", "expires_in": 3600})
	}))
	defer srv.Close()
	props := map[string]string{"sasl.mechanism": "OAUTHBEARER", "sasl.jaas.config": oauthModule + ` extension_traceId="abc";`,
		"sasl.login.callback.handler.class":                 "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
		"sasl.oauthbearer.token.endpoint.url":               srv.URL,
		"sasl.oauthbearer.client.credentials.client.id":     "ferry",
		"sasl.oauthbearer.client.credentials.client.secret": "s3cret",
		"sasl.oauthbearer.scope":                            "kafka"}
	msg := firstMessage(t, props)
	if !strings.Contains(msg, "auth=Bearer tok-123") || !strings.Contains(msg, "traceId=abc") {
		t.Fatalf("first message %q", msg)
	}
	// The token is cached until it expires.
	firstMessage(t, props)
	if calls != 2 { // one per mechanism built: each has its own cache
		t.Errorf("%d token requests", calls)
	}
	// The deprecated JAAS options still work.
	delete(props, "sasl.oauthbearer.client.credentials.client.id")
	delete(props, "sasl.oauthbearer.client.credentials.client.secret")
	props["sasl.jaas.config"] = oauthModule + ` clientId="ferry" clientSecret="s3cret";`
	if msg := firstMessage(t, props); !strings.Contains(msg, "auth=Bearer tok-123") {
		t.Fatalf("JAAS options: %q", msg)
	}
	// A refused client fails authentication with the endpoint's answer.
	props["sasl.jaas.config"] = oauthModule + ` clientId="ferry" clientSecret="wrong";`
	mech, err := buildSASL(props, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := mech.Authenticate(context.Background(), "h:1"); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("refused: %v", err)
	}
}

func TestOAuthUnsecuredAndFileTokens(t *testing.T) {
	msg := firstMessage(t, map[string]string{"sasl.mechanism": "OAUTHBEARER",
		"sasl.jaas.config": oauthModule + ` unsecuredLoginStringClaim_sub="alice" unsecuredLoginListClaim_scope=",a,b";`})
	tok := strings.TrimSuffix(strings.SplitN(strings.SplitN(msg, "auth=Bearer ", 2)[1], "\x01", 2)[0], "")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[2] != "" {
		t.Fatalf("token %q", tok)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil || claims["sub"] != "alice" || claims["exp"] == nil || len(claims["scope"].([]any)) != 2 {
		t.Fatalf("claims %s %v", payload, err)
	}

	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	msg = firstMessage(t, map[string]string{"sasl.mechanism": "OAUTHBEARER", "sasl.jaas.config": oauthModule + ";",
		"sasl.oauthbearer.token.endpoint.url": "file://" + file})
	if !strings.Contains(msg, "auth=Bearer file-token\x01") {
		t.Fatalf("file token: %q", msg)
	}
}

func TestMSKIAM(t *testing.T) {
	props := map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "AWS_MSK_IAM",
		"sasl.jaas.config":                   "software.amazon.msk.auth.iam.IAMLoginModule required;",
		"sasl.client.callback.handler.class": "software.amazon.msk.auth.iam.IAMClientCallbackHandler"}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if _, err := Build(Producer, props); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("no credentials: %v", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
	mech, err := buildSASL(props, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, msg, err := mech.Authenticate(context.Background(), "b-1.example.kafka.us-east-1.amazonaws.com:9098")
	if err != nil {
		t.Fatal(err)
	}
	var payload map[string]string
	if err := json.Unmarshal(msg, &payload); err != nil || payload["action"] != "kafka-cluster:Connect" || !strings.Contains(payload["x-amz-credential"], "AKIDEXAMPLE") {
		t.Fatalf("payload %s %v", msg, err)
	}
	props["sasl.jaas.config"] = `software.amazon.msk.auth.iam.IAMLoginModule required awsProfileName="prod";`
	if _, err := Build(Producer, props); err == nil || !strings.Contains(err.Error(), "awsProfileName") {
		t.Fatalf("profile: %v", err)
	}
}
