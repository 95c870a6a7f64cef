// Package transforms implements Apache Kafka Connect's built-in single
// message transforms (SMTs) and predicates under the Java class names
// connector configs use, such as
// org.apache.kafka.connect.transforms.InsertField$Value or
// org.apache.kafka.connect.transforms.predicates.RecordIsTombstone.
//
// Each transform is a [connect.Transformation]; each predicate a
// [connect.Predicate]. [Plugins] returns their descriptors for the plugin
// registry, and the runtime builds a connector's chain from the
// transforms.* and predicates.* keys of its config.
//
// Transforms that operate on a key or a value come in two variants (the
// $Key and $Value classes). With a schema they expect a *connect.Struct and
// build the output schema once per input schema (kept in a small cache);
// without a schema they expect a map[string]any and never modify the input
// map in place.
//
// # Writing your own transform
//
// Any [connect.Plugin] of kind [connect.KindTransformation] (or
// [connect.KindPredicate]) can be registered next to the built-ins:
//
//	type upperTopic struct{}
//
//	func (upperTopic) Configure(map[string]string) error { return nil }
//	func (upperTopic) Close() error                      { return nil }
//	func (upperTopic) Apply(r *connect.Record) (*connect.Record, error) {
//		out := *r // never modify the input record
//		out.Topic = strings.ToUpper(r.Topic)
//		return &out, nil
//	}
//
//	plugin := connect.Plugin{
//		Kind:   connect.KindTransformation,
//		Class:  "com.example.UpperTopic",
//		Config: connect.NewConfigDef,
//		New:    func() any { return upperTopic{} },
//	}
//	reg, err := connect.NewRegistry(append(plugins.All(), plugin)...)
//
// A connector then uses it with transforms=up and
// transforms.up.type=com.example.UpperTopic (or the alias UpperTopic).
// Returning a nil record drops it; returning a [connect.Retriable] error
// makes the runtime retry under errors.retry.timeout.
package transforms
