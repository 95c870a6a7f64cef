package connect

import "errors"

type retriableError struct{ err error }

func (e retriableError) Error() string { return e.err.Error() }
func (e retriableError) Unwrap() error { return e.err }

// Retriable marks err as transient: the runtime retries the operation with
// backoff instead of failing the task. Retriable(nil) is nil.
func Retriable(err error) error {
	if err == nil {
		return nil
	}
	return retriableError{err}
}

// IsRetriable reports whether err, or any error it wraps, was marked Retriable.
func IsRetriable(err error) bool {
	var r retriableError
	return errors.As(err, &r)
}

// DataError reports a record that cannot be converted or processed: a
// schema mismatch, malformed bytes. Such errors are tolerable under
// errors.tolerance=all.
type DataError struct {
	Msg string
	Err error
}

func (e *DataError) Error() string {
	if e.Err != nil && e.Msg == "" {
		return e.Err.Error()
	}
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *DataError) Unwrap() error { return e.Err }

// NewDataError returns a DataError with the given message and cause.
func NewDataError(msg string, cause error) error { return &DataError{Msg: msg, Err: cause} }

type nonRetriableError struct{ err error }

func (e nonRetriableError) Error() string { return e.err.Error() }
func (e nonRetriableError) Unwrap() error { return e.err }

// NonRetriable marks err as one that waiting cannot heal (an invalid
// config, a missing class, refused credentials): the runtime does not
// restart a connector or task that failed with it automatically; a user
// must fix the cause and restart it. NonRetriable(nil) is nil.
func NonRetriable(err error) error {
	if err == nil {
		return nil
	}
	return nonRetriableError{err}
}

// IsNonRetriable reports whether err, or any error it wraps, was marked
// NonRetriable or is a *ConfigError.
func IsNonRetriable(err error) bool {
	var n nonRetriableError
	var c *ConfigError
	return errors.As(err, &n) || errors.As(err, &c)
}
