package distributed

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/rest"
	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/distributed/group"
	"github.com/ferryhq/ferry/runtime/herder"
	"github.com/ferryhq/ferry/storage/kafkastore"
)

// Headers of signed internal requests (§5.11).
const (
	headerSignature = "X-Connect-Authorization"
	headerAlgorithm = "X-Connect-Request-Signature-Algorithm"
	hmacSHA256      = "HmacSHA256"
	msgNoKey        = "This worker is still starting up and has not been able to read a session key from the config topic yet"
)

var _ rest.InternalHerder = (*Herder)(nil)

func (h *Herder) setSessionKey(k *kafkastore.SessionKey) {
	if k == nil {
		return
	}
	h.keyMu.Lock()
	h.sessionKey = k
	h.keyMu.Unlock()
}

func (h *Herder) currentSessionKey() *kafkastore.SessionKey {
	h.keyMu.Lock()
	defer h.keyMu.Unlock()
	return h.sessionKey
}

// sign returns the base64 HMAC-SHA256 of body.
func sign(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// rotateSessionKey writes a new session key when there is none, it expired
// or it no longer matches the configured algorithm and size (leader only,
// sessioned protocol only).
func (h *Herder) rotateSessionKey(ctx context.Context, snap *kafkastore.Snapshot, now time.Time) {
	if h.member.Protocol() != group.ProtocolSessioned {
		return
	}
	size := 256
	if h.cfg.IsSet(runtime.WKeySize) {
		size = h.cfg.Int(runtime.WKeySize)
	}
	ttl := time.Duration(h.cfg.Int(runtime.WKeyTTL)) * time.Millisecond
	k := snap.SessionKey
	if cur := h.currentSessionKey(); cur != nil && (k == nil || cur.CreationTimestamp > k.CreationTimestamp) {
		k = cur
	}
	if k != nil && k.Algorithm == h.cfg.String(runtime.WKeyGenerationAlgorithm) && len(k.Key)*8 == size &&
		now.Before(time.UnixMilli(k.CreationTimestamp).Add(ttl)) {
		return
	}
	key := make([]byte, size/8)
	if _, err := rand.Read(key); err != nil {
		h.logger.Error("cannot generate a session key", "error", err)
		return
	}
	nk := kafkastore.SessionKey{Key: key, Algorithm: h.cfg.String(runtime.WKeyGenerationAlgorithm), CreationTimestamp: now.UnixMilli()}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := h.configs.PutSessionKey(wctx, nk); err != nil {
		h.logger.Warn("cannot write a new session key", "error", err)
		return
	}
	h.setSessionKey(&nk)
	h.logger.Info("wrote a new session key")
}

// verify checks an internal request's signature when the group uses the
// sessioned protocol.
func (h *Herder) verify(sig rest.InternalSignature) error {
	// ready is set by the actor after the member exists (and orders the
	// read of h.member after its write).
	if !h.ready.Load() {
		return &herder.Error{Code: http.StatusServiceUnavailable, Message: msgNoKey}
	}
	if h.member.Protocol() != group.ProtocolSessioned {
		return nil
	}
	if sig.Signature == "" || sig.Algorithm == "" {
		return herder.BadRequest("Internal request missing required signature")
	}
	accepted := false
	for _, a := range h.cfg.List(runtime.WVerificationAlgorithms) {
		if a == sig.Algorithm {
			accepted = true
		}
	}
	if !accepted || sig.Algorithm != hmacSHA256 {
		return herder.BadRequest("Signature algorithm %s is not supported by this worker", sig.Algorithm)
	}
	k := h.currentSessionKey()
	if k == nil {
		return &herder.Error{Code: http.StatusServiceUnavailable, Message: msgNoKey}
	}
	want := sign(k.Key, sig.Body)
	if !hmac.Equal([]byte(want), []byte(sig.Signature)) {
		return herder.Forbidden("Internal request contained invalid signature.")
	}
	return nil
}

// PutTaskConfigs writes task configs a follower generated (the leader's
// side of POST /connectors/{c}/tasks).
func (h *Herder) PutTaskConfigs(ctx context.Context, connector string, configs []map[string]string, sig rest.InternalSignature) error {
	if err := h.verify(sig); err != nil {
		return err
	}
	return h.do(ctx, func(ctx context.Context) error {
		if err := h.leaderOrForward(); err != nil {
			return err
		}
		return h.writeTaskConfigs(ctx, connector, configs)
	})
}

// FenceZombies answers PUT /connectors/{c}/fence. Ferry runs sources at
// least once, so there are no transactional producers to fence.
func (h *Herder) FenceZombies(ctx context.Context, connector string, sig rest.InternalSignature) error {
	if err := h.verify(sig); err != nil {
		return err
	}
	return h.do(ctx, func(context.Context) error {
		if err := h.leaderOrForward(); err != nil {
			return err
		}
		cc := h.configs.Snapshot().Connectors[connector]
		if cc == nil {
			return herder.NotFound("Connector %s not found", connector)
		}
		if p, ok := h.reg.LookupConnector(cc.Config[runtime.KeyConnectorClass]); !ok || p.Kind != connect.KindSource {
			return herder.BadRequest("Connector %s is not a source connector", connector)
		}
		return nil
	})
}

// postTaskConfigs sends task configs to the leader's internal endpoint.
func (h *Herder) postTaskConfigs(ctx context.Context, leader, name string, configs []map[string]string, key *kafkastore.SessionKey, sessioned bool) error {
	body, err := json.Marshal(configs)
	if err != nil {
		return err
	}
	target := strings.TrimSuffix(leader, "/") + "/connectors/" + url.PathEscape(name) + "/tasks?forward=true"
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if sessioned {
		if key == nil {
			return fmt.Errorf("no session key read yet")
		}
		req.Header.Set(headerSignature, sign(key.Key, body))
		req.Header.Set(headerAlgorithm, hmacSHA256)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("leader answered %d: %s", resp.StatusCode, strings.TrimSpace(string(out)))
	}
	return nil
}
