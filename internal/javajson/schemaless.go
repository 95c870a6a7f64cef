package javajson

import "github.com/ferryhq/ferry/connect"

// MarshalSchemaless encodes v as Apache's JsonConverter with
// schemas.enable=false does: the encoding of the internal topics and of
// source offsets. Maps with string keys are written in java.util.HashMap
// iteration order (see connect.JavaHashMapOrder), so offset keys come out
// byte-identical to an Apache worker's. A nil v encodes as nil.
func MarshalSchemaless(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return AppendSchemaless(nil, v)
}

// AppendSchemaless appends the schemaless encoding of v to dst; nil
// appends "null".
func AppendSchemaless(dst []byte, v any) ([]byte, error) {
	e := getEncoder(false, true)
	defer putEncoder(e)
	e.buf = append(e.buf, dst...)
	if err := e.value(nil, v); err != nil {
		return nil, err
	}
	return append([]byte(nil), e.buf...), nil
}

// UnmarshalSchemaless decodes JSON as Apache does without a schema:
// integral numbers become int64, other numbers float64, objects
// map[string]any, arrays []any. Empty input decodes to nil.
func UnmarshalSchemaless(data []byte) (any, error) {
	p := getParser(data)
	defer putParser(p)
	root, err := p.parseDocument()
	if err != nil {
		return nil, connect.NewDataError("Converting byte[] to Kafka Connect data failed due to serialization error: ", err)
	}
	d := decoder{p: p, replaceNull: true}
	return d.value(nil, root)
}
