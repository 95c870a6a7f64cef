// Package backoff computes the delays of the worker's retry loops: status
// writes, group joins, retriable polls, client retries, automatic
// restarts. One policy type instead of a hand-written doubling in every
// loop keeps caps, jitter and resets consistent.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy describes an exponential backoff: Initial for the first retry,
// multiplied by Multiplier (2 when zero) for each further one, never above
// Max. Jitter in [0, 1] spreads each delay randomly over
// [d·(1−Jitter), d] so that many retriers do not wake together.
type Policy struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
	Jitter     float64
}

// Delay is the wait before retry number attempt (1 for the first retry).
func (p Policy) Delay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	mult := p.Multiplier
	if mult <= 1 {
		mult = 2
	}
	d := float64(p.Initial)
	limit := float64(p.Max)
	if p.Max <= 0 {
		limit = float64(p.Initial)
	}
	for i := 1; i < attempt && d < limit; i++ {
		d *= mult
	}
	d = min(d, limit)
	if j := min(max(p.Jitter, 0), 1); j > 0 {
		d -= d * j * rand.Float64()
	}
	return time.Duration(d)
}

// Backoff walks a Policy for one retry loop. The zero value of the
// counter starts at the first retry; it is not safe for concurrent use.
type Backoff struct {
	Policy
	attempt int
}

// New returns a Backoff for the policy.
func New(p Policy) *Backoff { return &Backoff{Policy: p} }

// Next counts one more failed attempt and returns the wait before the next.
func (b *Backoff) Next() time.Duration {
	b.attempt++
	return b.Delay(b.attempt)
}

// Attempts is the number of failed attempts counted since the last Reset.
func (b *Backoff) Attempts() int { return b.attempt }

// Reset starts again from Initial, after a success.
func (b *Backoff) Reset() { b.attempt = 0 }

// Sleep waits d or until ctx ends; it reports whether the full wait passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
