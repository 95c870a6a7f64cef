// Package restart decides when a FAILED connector or task is restarted
// automatically (a Ferry extension; Apache Connect waits for a user): how
// long to wait before each attempt (exponential backoff with jitter), when
// to give up, which errors are worth retrying, and when a healthy run
// clears the count.
package restart

import (
	"time"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/backoff"
)

// Policy is the automatic restart configuration of one connector (the
// worker's restart.auto.* keys, overridden by the connector's).
type Policy struct {
	Enabled bool
	// MaxAttempts is the number of restarts in a row after which the
	// instance stays FAILED; negative means no limit.
	MaxAttempts int
	// Initial is the delay before the first restart; each next one
	// doubles, up to Max.
	Initial time.Duration
	Max     time.Duration
}

// Default is the policy when no key is set: on, no attempt limit, 1 s
// doubling up to 60 s.
var Default = Policy{Enabled: true, MaxAttempts: -1, Initial: time.Second, Max: 60 * time.Second}

// HealthyAfter is how long an instance must run without failing for its
// attempt count to be cleared: the longest delay, but at least 10 s.
func (p Policy) HealthyAfter() time.Duration { return max(p.Max, 10*time.Second) }

// Healable reports whether waiting may heal err: errors marked
// connect.NonRetriable and configuration errors are not.
func Healable(err error) bool {
	return err != nil && !connect.IsNonRetriable(err)
}

// Tracker follows one connector or task across its automatic restarts. It
// is not safe for concurrent use: its owner serialises calls.
type Tracker struct {
	Policy   Policy
	attempts int
	since    time.Time // when the current run reached RUNNING; zero if not running
}

// NewTracker returns a tracker with no attempts.
func NewTracker(p Policy) *Tracker { return &Tracker{Policy: p} }

// Attempts is the number of automatic restarts since the last healthy run.
func (t *Tracker) Attempts() int { return t.attempts }

// Running records that the instance reached RUNNING at now.
func (t *Tracker) Running(now time.Time) { t.since = now }

// Healthy clears the count if the instance has been running long enough;
// it reports whether it did.
func (t *Tracker) Healthy(now time.Time) bool {
	if t.attempts > 0 && !t.since.IsZero() && now.Sub(t.since) >= t.Policy.HealthyAfter() {
		t.attempts = 0
		return true
	}
	return false
}

// Failed records a failure at now and returns the delay before the next
// attempt, or false when the instance must stay FAILED (restarts disabled,
// an error that waiting cannot heal, or the attempts used up).
func (t *Tracker) Failed(now time.Time, err error) (time.Duration, bool) {
	t.Healthy(now)
	t.since = time.Time{}
	if !t.Policy.Enabled || !Healable(err) {
		return 0, false
	}
	if t.Policy.MaxAttempts >= 0 && t.attempts >= t.Policy.MaxAttempts {
		return 0, false
	}
	t.attempts++
	return Backoff(t.Policy.Initial, t.Policy.Max, t.attempts), true
}

// Backoff is the delay before attempt n (1-based): initial doubled n-1
// times, capped at maxDelay, then reduced by up to a quarter at random so
// that instances failing together do not restart in lockstep.
func Backoff(initial, maxDelay time.Duration, n int) time.Duration {
	if initial <= 0 {
		initial = time.Millisecond
	}
	return backoff.Policy{Initial: initial, Max: maxDelay, Jitter: 0.25}.Delay(n)
}
