package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ferryhq/ferry/runtime/herder"
)

// Apache's messages when a request cannot reach the right worker.
const (
	msgNoLeader = "Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway."
	msgConflict = "Cannot complete request because of a conflicting operation (e.g. worker rebalance)"
	// MsgStaleConfig is the 409 a distributed herder answers while a
	// rebalance it knows is needed has not completed yet (§1.3 item 4).
	MsgStaleConfig = "Cannot complete request momentarily due to stale configuration (typically caused by a concurrent config change)"
)

// retryAfterSeconds is the Retry-After hint on 409s caused by a rebalance:
// rebalances usually complete well within a second or two.
const retryAfterSeconds = "1"

// rebalanceConflict reports whether a 409 message is one of the rebalance
// conditions, which clear by themselves (a client should retry).
func rebalanceConflict(msg string) bool {
	switch msg {
	case msgNoLeader, msgConflict, MsgStaleConfig:
		return true
	}
	return false
}

// forwardTimeout bounds a request forwarded to another worker.
const forwardTimeout = 90 * time.Second

// bufferBody reads a request body once so that it can be re-sent when the
// herder asks for the request to be forwarded.
func bufferBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

// forward re-issues r to the worker named by fe, following Apache's
// forward=true/false hop rules (at most two hops), and relays the answer.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, body []byte, fe *herder.ForwardError) {
	q := r.URL.Query()
	hop := q.Get("forward")
	switch {
	case fe.URL == "":
		s.writeError(w, r, herder.Conflict("%s", msgNoLeader))
		return
	case hop == "false":
		s.writeError(w, r, herder.Conflict("%s", msgConflict))
		return
	case hop == "":
		q.Set("forward", "true")
	default:
		q.Set("forward", "false")
	}
	target := strings.TrimSuffix(fe.URL, "/") + r.URL.EscapedPath() + "?" + q.Encode()
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target, bytes.NewReader(body))
	if err != nil {
		s.writeError(w, r, herder.Internal(err, "IO Error trying to forward REST request: %v", err))
		return
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "kafka-connect")
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	if a := r.Header.Get("Authorization"); a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.writeError(w, r, herder.Internal(err, "IO Error trying to forward REST request: %v", err))
		return
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		s.writeError(w, r, herder.Internal(err, "IO Error trying to forward REST request: %v", err))
		return
	}
	switch {
	case resp.StatusCode == http.StatusNoContent:
		w.WriteHeader(http.StatusNoContent)
	case resp.StatusCode >= 400:
		var eb errorBody
		if json.Unmarshal(out, &eb) != nil || eb.ErrorCode == 0 {
			eb = errorBody{ErrorCode: resp.StatusCode, Message: string(out)}
		}
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		writeJSON(w, resp.StatusCode, eb)
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		if loc := resp.Header.Get("Location"); loc != "" {
			w.Header().Set("Location", loc)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(out)
	default:
		s.writeError(w, r, herder.Internal(nil, "Unexpected status code when handling forwarded request: %d", resp.StatusCode))
	}
}

func asForward(err error) (*herder.ForwardError, bool) {
	var fe *herder.ForwardError
	if errors.As(err, &fe) {
		return fe, true
	}
	return nil, false
}
