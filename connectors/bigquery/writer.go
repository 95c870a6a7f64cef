package bigquery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	bqapi "google.golang.org/api/bigquery/v2"

	"github.com/ferryhq/ferry/connect"
)

// maxRowsPerRequest is BigQuery's recommended insertAll batch size; larger
// requests are allowed but gain little and risk the 10 MB limit.
const maxRowsPerRequest = 500

// pendingRow is one row on its way to a table.
type pendingRow struct {
	rec      *connect.SinkRecord
	insertID string
	json     map[string]bqapi.JsonValue
}

// badRow is a row BigQuery refused for its content.
type badRow struct {
	rec *connect.SinkRecord
	err error
}

// inserter sends rows with tabledata.insertAll.
type inserter struct {
	c   *clients
	s   *settings
	log *slog.Logger
}

// insert writes rows into dataset.table (table may carry a $decorator).
// Rows BigQuery refuses for their content come back as bad rows; an error
// means the write as a whole failed.
func (w *inserter) insert(ctx context.Context, dataset, table string, rows []pendingRow) ([]badRow, error) {
	var bad []badRow
	for start := 0; start < len(rows); start += maxRowsPerRequest {
		end := min(start+maxRowsPerRequest, len(rows))
		b, err := w.insertChunk(ctx, dataset, table, rows[start:end])
		if err != nil {
			return nil, err
		}
		bad = append(bad, b...)
	}
	return bad, nil
}

func (w *inserter) insertChunk(ctx context.Context, dataset, table string, rows []pendingRow) ([]badRow, error) {
	// skipInvalidRows: the good rows of a request go in even when some are
	// refused, so a bad row costs no second request. Refused rows come back
	// with BigQuery's reason for the dead letter queue or the task failure;
	// their offsets are not committed unless they were reported.
	req := &bqapi.TableDataInsertAllRequest{SkipInvalidRows: true, Rows: make([]*bqapi.TableDataInsertAllRequestRows, len(rows))}
	for i, r := range rows {
		req.Rows[i] = &bqapi.TableDataInsertAllRequestRows{InsertId: r.insertID, Json: r.json}
	}
	var resp *bqapi.TableDataInsertAllResponse
	err := w.retry(ctx, "insertAll into "+dataset+"."+table, func() error {
		var err error
		cctx, cancel := context.WithTimeout(ctx, apiTimeout)
		defer cancel()
		resp, err = w.c.api.Tabledata.InsertAll(w.c.project, dataset, table, req).Context(cctx).Do()
		return err
	})
	if err != nil {
		if isTooLarge(err) && len(rows) > 1 {
			// Halve and try again, as the Java connector does.
			half := len(rows) / 2
			a, err := w.insertChunk(ctx, dataset, table, rows[:half])
			if err != nil {
				return nil, err
			}
			b, err := w.insertChunk(ctx, dataset, table, rows[half:])
			if err != nil {
				return nil, err
			}
			return append(a, b...), nil
		}
		return nil, err
	}
	if len(resp.InsertErrors) == 0 {
		return nil, nil
	}
	// Rows refused for their content are bad; rows only "stopped" because
	// others in the request were bad were not written and go again.
	var bad []badRow
	var again []pendingRow
	for _, ie := range resp.InsertErrors {
		if ie.Index < 0 || int(ie.Index) >= len(rows) {
			return nil, fmt.Errorf("insertAll into %s.%s returned an error for row %d of %d", dataset, table, ie.Index, len(rows))
		}
		r := rows[ie.Index]
		var reasons []string
		stopped := true
		for _, e := range ie.Errors {
			if e.Reason != "stopped" {
				stopped = false
				reasons = append(reasons, describe(e))
			}
		}
		if stopped {
			again = append(again, r)
			continue
		}
		bad = append(bad, badRow{rec: r.rec, err: fmt.Errorf("BigQuery refused the row for %s.%s: %s", dataset, table, strings.Join(reasons, "; "))})
	}
	if len(again) > 0 {
		if len(again) == len(rows) {
			return nil, fmt.Errorf("insertAll into %s.%s stopped every row without naming a bad one", dataset, table)
		}
		b, err := w.insertChunk(ctx, dataset, table, again)
		if err != nil {
			return nil, err
		}
		bad = append(bad, b...)
	}
	return bad, nil
}

func describe(e *bqapi.ErrorProto) string {
	s := e.Reason
	if e.Location != "" {
		s += " at " + e.Location
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// retry runs call, retrying backend, quota, rate-limit and I/O errors
// bigQueryRetry times with bigQueryRetryWait plus up to 1 s of jitter.
func (w *inserter) retry(ctx context.Context, what string, call func() error) error {
	for attempt := 0; ; attempt++ {
		err := call()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !isRetriable(err) {
			return err
		}
		if attempt >= w.s.retries {
			return &retriableError{fmt.Errorf("%s failed after %d attempts: %w", what, attempt+1, err)}
		}
		wait := w.s.retryWait + time.Duration(rand.Int64N(int64(time.Second)))
		w.log.Warn("BigQuery request failed; retrying", "request", what, "attempt", attempt+1, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// retriableError marks a failure worth redelivering the batch for.
type retriableError struct{ err error }

func (e *retriableError) Error() string { return e.err.Error() }
func (e *retriableError) Unwrap() error { return e.err }

func isRetriableFailure(err error) bool {
	var re *retriableError
	return errors.As(err, &re)
}
