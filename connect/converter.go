package connect

// Converter turns Connect data into the bytes stored in Kafka and back.
// Instances are configured once and then used from one task goroutine.
type Converter interface {
	// Configure receives the converter's own keys (prefix stripped) and
	// whether it converts keys (true) or values (false).
	Configure(config map[string]string, isKey bool) error
	FromConnectData(topic string, schema *Schema, value any) ([]byte, error)
	ToConnectData(topic string, data []byte) (SchemaAndValue, error)
}

// HeaderConverter turns header values into bytes and back.
type HeaderConverter interface {
	Configure(config map[string]string) error
	FromConnectHeader(topic, key string, schema *Schema, value any) ([]byte, error)
	ToConnectHeader(topic, key string, data []byte) (SchemaAndValue, error)
}

// Transformation is a single message transform: it returns a modified
// record, the same record, or nil to drop it. Transforms see the shared
// Record part of source and sink records.
type Transformation interface {
	Configure(config map[string]string) error
	Apply(rec *Record) (*Record, error)
	Close() error
}

// Predicate decides whether a transform applies to a record.
type Predicate interface {
	Configure(config map[string]string) error
	Test(rec *Record) (bool, error)
	Close() error
}
