// Package e2e holds Ferry's end-to-end tests: a real worker (in-process or
// the built binary) against a real Kafka broker (FERRY_TEST_KAFKA, else an
// in-process kfake cluster), exercised only through its REST API, files and
// Kafka topics — the way a user sees it.
package e2e
