package connect

import "time"

// Header is one record header: a key and a Connect value with its schema.
type Header struct {
	Key    string
	Schema *Schema
	Value  any
}

// Headers is an ordered list of headers; keys may repeat.
type Headers []Header

// Last returns the last header with the given key.
func (h Headers) Last(key string) (Header, bool) {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Key == key {
			return h[i], true
		}
	}
	return Header{}, false
}

// Record holds what source and sink records share: the Kafka coordinates
// and the key, value and headers in Connect form.
type Record struct {
	Topic string
	// Partition is the Kafka partition, or -1 to let the producer choose.
	Partition   int32
	KeySchema   *Schema
	Key         any
	ValueSchema *Schema
	Value       any
	// Timestamp is the record time; the zero time means "none" (the
	// producer then stamps the record).
	Timestamp time.Time
	Headers   Headers
}

// SourceRecord is what a source task returns from Poll. SourcePartition
// names the stream it came from and SourceOffset the position within it;
// the runtime stores the latest acknowledged offset per partition.
//
// SourcePartition and SourceOffset values must be strings, booleans,
// integers, floats or nil: they are stored as JSON.
type SourceRecord struct {
	Record
	SourcePartition map[string]any
	SourceOffset    map[string]any
}

// TimestampType tells where a sink record's timestamp came from.
type TimestampType string

// Kafka timestamp types.
const (
	NoTimestampType TimestampType = "NoTimestampType"
	CreateTime      TimestampType = "CreateTime"
	LogAppendTime   TimestampType = "LogAppendTime"
)

// SinkRecord is a consumed Kafka record handed to a sink task's Put.
type SinkRecord struct {
	Record
	KafkaOffset   int64
	TimestampType TimestampType
	// Original coordinates before any transform changed them.
	OriginalTopic     string
	OriginalPartition int32
	OriginalOffset    int64
}

// TopicPartition names one partition of a Kafka topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// RecordMetadata describes where the broker stored a produced record.
type RecordMetadata struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
}
