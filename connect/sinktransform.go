package connect

// SinkTransformation is an optional Transformation capability for
// transforms that need what only sink records carry, such as the Kafka
// offset (InsertField's offset.field). Runtimes that hold a SinkRecord call
// ApplySink instead of Apply; the returned record keeps the sink metadata
// of rec.
type SinkTransformation interface {
	ApplySink(rec *SinkRecord) (*Record, error)
}
