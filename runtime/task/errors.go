package task

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// Stage names where a record can fail, as Apache reports them.
const (
	stageTransformation  = "TRANSFORMATION"
	stageKeyConverter    = "KEY_CONVERTER"
	stageValueConverter  = "VALUE_CONVERTER"
	stageHeaderConverter = "HEADER_CONVERTER"
	stageKafkaProduce    = "KAFKA_PRODUCE"
)

// toleranceError fails a task whose record failed in a stage where the
// error was not tolerated. Its message starts with Apache's phrase.
type toleranceError struct {
	stage  string
	record string // which record, for the trace
	err    error
}

func (e *toleranceError) Error() string {
	return fmt.Sprintf("Tolerance exceeded in error handler: %s failed for %s: %v", e.stage, e.record, e.err)
}

func (e *toleranceError) Unwrap() error { return e.err }

// errorHandler applies an ErrorPolicy: retries of retriable failures with
// backoff, then tolerance.
type errorHandler struct {
	policy ErrorPolicy
	log    *slog.Logger
	ctl    *control
}

// retry calls fn again while it fails with a Retriable error, until the
// policy's retry timeout. It is only entered after a first retriable
// failure, so the hot path stays free of closures.
func retry[T any](ctx context.Context, h *errorHandler, first error, fn func() (T, error)) (T, error) {
	var zero T
	err := first
	if h.policy.RetryTimeout <= 0 {
		return zero, err
	}
	deadline := time.Now().Add(h.policy.RetryTimeout)
	for attempt := 1; connect.IsRetriable(err); attempt++ {
		delay := toleranceDelay(attempt, h.policy.RetryDelayMax)
		remaining := time.Until(deadline)
		if remaining <= 0 {
			break
		}
		delay = min(delay, remaining)
		h.log.Debug("retrying after retriable error", "attempt", attempt, "delay", delay, "error", err)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return zero, err
		case <-h.ctl.stopCh:
			t.Stop()
			return zero, err
		}
		var v T
		v, err = fn()
		if err == nil {
			return v, nil
		}
	}
	return zero, err
}

// toleranceDelay is 300ms << (attempt-1); once that exceeds max, a random
// delay in [0, max). This is Apache's RetryWithToleranceOperator formula
// (errors.retry.delay.max.ms), kept as is rather than expressed as a
// backoff.Policy: a capped Policy waits the cap with at most a fractional
// jitter, whereas Apache spreads capped delays over the whole [0, max),
// which connectors tuned against Apache observe.
func toleranceDelay(attempt int, max time.Duration) time.Duration {
	d := 300 * time.Millisecond
	if attempt > 1 && attempt < 32 {
		d <<= attempt - 1
	} else if attempt >= 32 {
		d = time.Duration(1<<62 - 1)
	}
	if max > 0 && d > max {
		return rand.N(max)
	}
	return d
}

// tolerate decides about a failed record: it returns nil when the record is
// to be skipped (errors.tolerance=all) and the error that fails the task
// otherwise. describe renders the record for the logs and the trace.
func (h *errorHandler) tolerate(stage string, err error, describe func(withData bool) string) error {
	if h.policy.Tolerance == ToleranceAll {
		if h.policy.LogErrors {
			h.log.Error("error encountered in task, record skipped (errors.tolerance=all)",
				"stage", stage, "record", describe(h.policy.LogMessages), "error", err)
		}
		return nil
	}
	return &toleranceError{stage: stage, record: describe(false), err: err}
}

// isInterrupt tells whether err only reports that the task's own blocking
// context was cancelled (pause, stop, commit due) rather than a failure.
func isInterrupt(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}
