// Package group implements the Kafka Connect group membership protocol that the
// workers of a distributed cluster speak through a Kafka group coordinator
// (protocol type "connect", sub-protocols "default", "compatible" and
// "sessioned").
//
// It has three parts:
//
//   - the wire formats: member metadata sent in JoinGroup and assignments sent in
//     SyncGroup ([EncodeMetadata], [DecodeMetadata], [EncodeAssignment],
//     [DecodeAssignment]), byte-compatible with Apache Kafka Connect workers;
//   - the leader's assignors as pure functions: [AssignEager] for protocol
//     version 0 and [AssignCooperative] for the incremental cooperative versions
//     1 and 2, with [Assign] choosing between them and handling a leader that is
//     behind on the config topic;
//   - [Member], which joins the group with franz-go's low-level requests, runs
//     the assignor when it is elected leader, heartbeats in the background and
//     reports revocations and assignments to a [Listener].
//
// The package knows nothing about connectors beyond their names and task counts;
// the distributed herder owns the config topic and the running work.
package group
