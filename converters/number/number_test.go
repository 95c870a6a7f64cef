package number

import (
	"bytes"
	"testing"

	"github.com/ferryhq/ferry/connect"
)

func TestNumberConverters(t *testing.T) {
	for _, tc := range []struct {
		c     *Converter
		value any
		bytes []byte
	}{
		{Short(), int16(-2), []byte{0xff, 0xfe}},
		{Integer(), int32(258), []byte{0, 0, 1, 2}},
		{Long(), int64(1), []byte{0, 0, 0, 0, 0, 0, 0, 1}},
		{Float(), float32(1), []byte{0x3f, 0x80, 0, 0}},
		{Double(), 2.0, []byte{0x40, 0, 0, 0, 0, 0, 0, 0}},
		{Boolean(), true, []byte{1}},
	} {
		b, err := tc.c.FromConnectData("t", nil, tc.value)
		if err != nil || !bytes.Equal(b, tc.bytes) {
			t.Fatalf("%s: %x %v", tc.c.typeName, b, err)
		}
		sv, err := tc.c.ToConnectData("t", b)
		if err != nil || sv.Value != tc.value || !sv.Schema.Optional {
			t.Fatalf("%s: %v %v", tc.c.typeName, sv, err)
		}
		if _, err := tc.c.ToConnectData("t", append(b, 0)); err == nil {
			t.Fatalf("%s: wrong size accepted", tc.c.typeName)
		}
		if _, err := tc.c.FromConnectData("t", nil, "x"); err == nil {
			t.Fatalf("%s: wrong type accepted", tc.c.typeName)
		}
	}
	if _, err := Boolean().FromConnectData("t", connect.Int8Schema, true); err == nil ||
		err.Error() != "Invalid schema type for BooleanConverter: INT8" {
		t.Fatal(err)
	}
}
