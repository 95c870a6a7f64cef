package connect

import "context"

// ErrantRecordReporter lets a sink task hand over records it cannot write
// (Apache's KIP-610 reporter). The runtime treats a reported record like a
// record that failed conversion: it is logged when errors.log.enable is set
// and written, as the bytes originally consumed, to the dead letter queue
// when errors.deadletterqueue.topic.name is set. The consumer offset of a
// reported record is committed only once its dead letter queue write was
// acknowledged.
//
// Report may be called from any goroutine, during or after the Put that
// delivered the record. It returns once the report was queued, not
// written. Under errors.tolerance=none it returns an error, and the task
// fails: the task should return that error from Put.
type ErrantRecordReporter interface {
	Report(ctx context.Context, rec *SinkRecord, err error) error
}

// ErrantReporterProvider is an optional SinkTaskContext capability: the
// runtime's errant-record reporter. ErrantRecordReporter returns nil when
// the connector has neither a dead letter queue nor error logging
// configured (as Apache's errantRecordReporter() returns null), and tasks
// should then handle bad records themselves.
//
//	if p, ok := tc.(connect.ErrantReporterProvider); ok {
//		reporter = p.ErrantRecordReporter()
//	}
type ErrantReporterProvider interface {
	ErrantRecordReporter() ErrantRecordReporter
}
