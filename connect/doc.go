// Package connect is Ferry's public SDK: everything a connector, converter or
// transform author needs, and nothing of the runtime that runs them.
//
// It is the Go counterpart of Apache Kafka's connect-api module:
//
//   - the Connect data model: [Schema], [Struct], logical types (Decimal,
//     Date, Time, Timestamp) and [SchemaAndValue];
//   - records: [SourceRecord] produced by source tasks, [SinkRecord] handed
//     to sink tasks, both carrying [Headers] and a timestamp;
//   - the plugin contracts: [SourceConnector], [SourceTask], [SinkConnector],
//     [SinkTask], [Converter], [HeaderConverter], [Transformation] and
//     [Predicate], with optional capabilities expressed as small interfaces
//     the runtime checks for (for example [RecordCommitter] or [PreCommitter]);
//   - [ConfigDef], the single declaration of a plugin's configuration that
//     drives parsing, REST validation and documentation;
//   - [Plugin] descriptors and a [Registry] that resolves Apache class names
//     and their aliases.
//
// # Threading and lifecycle
//
// The runtime owns every loop. A task's methods are called from one
// goroutine at a time: Start, then Poll (source) or Put (sink) repeatedly,
// then Stop. Poll and Put must return promptly when their context is
// cancelled. A task must not start goroutines that outlive Stop.
//
// # Errors
//
// Wrap an error with [Retriable] when trying the same call again may succeed
// (a network blip, a lock timeout); the runtime then retries with backoff.
// Any other error from Poll or Put fails the task, and its message and chain
// are shown in the task status.
package connect
