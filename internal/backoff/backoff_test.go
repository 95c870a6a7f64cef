package backoff

import (
	"context"
	"testing"
	"time"
)

func TestDelayDoublesUpToMax(t *testing.T) {
	p := Policy{Initial: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := p.Delay(i + 1); got != w*time.Millisecond {
			t.Errorf("attempt %d: %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := p.Delay(0); got != 100*time.Millisecond {
		t.Errorf("attempt 0: %v", got)
	}
	if got := p.Delay(1 << 20); got != time.Second {
		t.Errorf("huge attempt: %v", got)
	}
}

func TestDelayMultiplierAndNoMax(t *testing.T) {
	if got := (Policy{Initial: time.Second}).Delay(5); got != time.Second {
		t.Errorf("no max: %v", got)
	}
	if got := (Policy{Initial: time.Millisecond, Max: time.Hour, Multiplier: 10}).Delay(4); got != time.Second {
		t.Errorf("×10: %v", got)
	}
}

func TestJitterStaysInRange(t *testing.T) {
	p := Policy{Initial: time.Second, Max: time.Second, Jitter: 0.5}
	for range 1000 {
		if d := p.Delay(3); d < 500*time.Millisecond || d > time.Second {
			t.Fatalf("delay %v outside [0.5s, 1s]", d)
		}
	}
}

func TestBackoffCountsAndResets(t *testing.T) {
	b := New(Policy{Initial: time.Millisecond, Max: 4 * time.Millisecond})
	for _, w := range []time.Duration{1, 2, 4, 4} {
		if got := b.Next(); got != w*time.Millisecond {
			t.Fatalf("got %v want %v", got, w*time.Millisecond)
		}
	}
	if b.Attempts() != 4 {
		t.Fatalf("attempts %d", b.Attempts())
	}
	b.Reset()
	if got := b.Next(); got != time.Millisecond || b.Attempts() != 1 {
		t.Fatalf("after reset: %v, %d", got, b.Attempts())
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("a cancelled context must cut the sleep short")
	}
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("a full sleep must report true")
	}
}
