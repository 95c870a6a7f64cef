package rest

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ferryhq/ferry/runtime/herder"
)

func TestRebalanceConflictsCarryRetryAfter(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		err        error
		retryAfter string
	}{
		{herder.Conflict("%s", MsgStaleConfig), "1"},
		{herder.Conflict("%s", msgNoLeader), "1"},
		{herder.Conflict("%s", msgConflict), "1"},
		{herder.Conflict("Connector a already exists"), ""},
		{herder.NotFound("Connector a not found"), ""},
	} {
		rec := httptest.NewRecorder()
		s.writeError(rec, httptest.NewRequest(http.MethodPost, "/connectors", nil), tc.err)
		if got := rec.Header().Get("Retry-After"); got != tc.retryAfter {
			t.Errorf("%v: Retry-After %q, want %q", tc.err, got, tc.retryAfter)
		}
	}
}

// A 409 relayed from the leader keeps its Retry-After.
func TestForwardRelaysRetryAfter(t *testing.T) {
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("forward") != "true" {
			t.Errorf("forwarded with %q", r.URL.RawQuery)
		}
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusConflict, errorBody{ErrorCode: 409, Message: MsgStaleConfig})
	}))
	defer leader.Close()
	s := &Server{log: slog.New(slog.DiscardHandler), client: http.DefaultClient}
	rec := httptest.NewRecorder()
	s.forward(rec, httptest.NewRequest(http.MethodPost, "/connectors/a/restart", nil), nil, &herder.ForwardError{URL: leader.URL + "/"})
	if rec.Code != 409 || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("got %d Retry-After %q: %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}
