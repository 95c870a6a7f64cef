package bytearray

import (
	"testing"

	"github.com/ferryhq/ferry/connect"
)

func TestByteArrayConverter(t *testing.T) {
	var c Converter
	b, err := c.FromConnectData("t", connect.BytesSchema, []byte("ab"))
	if err != nil || string(b) != "ab" {
		t.Fatal(b, err)
	}
	if _, err := c.FromConnectData("t", connect.StringSchema, []byte("ab")); err == nil ||
		err.Error() != "Invalid schema type for ByteArrayConverter: STRING" {
		t.Fatal(err)
	}
	if _, err := c.FromConnectData("t", nil, "ab"); err == nil ||
		err.Error() != "ByteArrayConverter is not compatible with objects of type string" {
		t.Fatal(err)
	}
	sv, _ := c.ToConnectData("t", nil)
	if sv.Schema != connect.OptionalBytesSchema || sv.Value != nil {
		t.Fatal(sv)
	}
}
