package kafkaclient

import (
	"testing"
	"time"
)

// retry.backoff.ms doubles up to retry.backoff.max.ms, each delay spread
// 20% either way, as Java's clients do.
func TestRetryDelayDoublesToTheCapWithJitter(t *testing.T) {
	delay := retryDelay(100*time.Millisecond, time.Second)
	for tries, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 50: time.Second} {
		for range 100 {
			if d := delay(tries); d < want*8/10 || d > want*12/10 {
				t.Fatalf("try %d: %v, want in [%v, %v]", tries, d, want*8/10, want*12/10)
			}
		}
	}
}
