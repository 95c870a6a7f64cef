// Package runtime runs connectors and tasks: the framework's own connector
// and worker configuration, config validation for the REST API, the worker
// that owns connector instances and task goroutines, and status tracking.
//
// Herders (standalone, distributed) decide what runs where and call the
// Worker; the per-task loops live in runtime/task, the per-connector ones in
// runtime/connrun, and the automatic restart policy in runtime/restart.
package runtime
