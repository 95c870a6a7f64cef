package restart

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ferryhq/ferry/connect"
)

func TestBackoffDoublesToTheCapWithJitter(t *testing.T) {
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 7: 60 * time.Second, 30: 60 * time.Second} {
		for range 100 {
			d := Backoff(time.Second, 60*time.Second, n)
			if d > want || d < want*3/4 {
				t.Fatalf("attempt %d: %v, want in [%v, %v]", n, d, want*3/4, want)
			}
		}
	}
	// No initial delay means 1 ms; no cap means no growth; a cap below the
	// initial delay wins.
	for _, c := range []struct{ initial, max, want time.Duration }{
		{0, 0, time.Millisecond}, {time.Second, 0, time.Second}, {time.Second, 100 * time.Millisecond, 100 * time.Millisecond},
	} {
		if d := Backoff(c.initial, c.max, 5); d > c.want || d < c.want*3/4 {
			t.Fatalf("Backoff(%v, %v, 5) = %v, want in [%v, %v]", c.initial, c.max, d, c.want*3/4, c.want)
		}
	}
}

func TestTracker(t *testing.T) {
	p := Policy{Enabled: true, MaxAttempts: 2, Initial: time.Second, Max: 10 * time.Second}
	tr := NewTracker(p)
	now := time.Now()
	down := errors.New("connection refused")
	for i := 1; i <= 2; i++ {
		if _, ok := tr.Failed(now, down); !ok || tr.Attempts() != i {
			t.Fatalf("attempt %d refused", i)
		}
	}
	if _, ok := tr.Failed(now, down); ok {
		t.Fatal("third attempt allowed with max 2")
	}
	// A healthy run clears the count.
	tr.Running(now)
	if tr.Healthy(now.Add(5 * time.Second)) {
		t.Fatal("healthy after 5 s")
	}
	if !tr.Healthy(now.Add(10*time.Second)) || tr.Attempts() != 0 {
		t.Fatal("not cleared after a healthy run")
	}
	if _, ok := tr.Failed(now, connect.NonRetriable(down)); ok {
		t.Fatal("non-retriable error retried")
	}
	if _, ok := tr.Failed(now, fmt.Errorf("start: %w", &connect.ConfigError{Name: "x", Message: "bad"})); ok {
		t.Fatal("config error retried")
	}
	if _, ok := NewTracker(Policy{}).Failed(now, down); ok {
		t.Fatal("retried while disabled")
	}
}
