package task

import (
	"math"
	"testing"
)

func TestSamePartition(t *testing.T) {
	cases := []struct {
		a, b map[string]any
		want bool
	}{
		{map[string]any{"filename": "a"}, map[string]any{"filename": "a"}, true},
		{map[string]any{"filename": "a"}, map[string]any{"filename": "b"}, false},
		{map[string]any{"t": "x", "p": int64(1)}, map[string]any{"p": int64(1), "t": "x"}, true},
		{map[string]any{"p": int64(1)}, map[string]any{"p": int32(1)}, false},
		{map[string]any{"b": []byte("x")}, map[string]any{"b": []byte("x")}, true},
		{map[string]any{"f": math.NaN()}, map[string]any{"f": math.NaN()}, false},
		{map[string]any{"m": map[string]any{}}, map[string]any{"m": map[string]any{}}, false},
		{map[string]any{"a": nil}, map[string]any{"b": nil}, false},
		{map[string]any{}, map[string]any{"a": 1}, false},
	}
	for i, c := range cases {
		if got := samePartition(c.a, c.b); got != c.want {
			t.Errorf("case %d: samePartition(%v, %v) = %v, want %v", i, c.a, c.b, got, c.want)
		}
	}
}
