package group

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"
)

// unhex decodes hex written with spaces between fields for readability.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

const (
	hexURL    = "000f 687474703a2f2f77313a383038332f" // "http://w1:8083/"
	hexLeader = "000d 636f6e6e6563742d312d616263"     // "connect-1-abc"
)

func TestMetadataGolden(t *testing.T) {
	tests := []struct {
		name string
		ws   WorkerState
		hex  string
	}{
		{
			name: "v0",
			ws:   WorkerState{Version: V0, URL: "http://w1:8083/", ConfigOffset: 42},
			hex:  "0000 " + hexURL + " 000000000000002a",
		},
		{
			name: "v1 without allocation",
			ws:   WorkerState{Version: V1, URL: "http://w1:8083/", ConfigOffset: -1},
			hex:  "0001 " + hexURL + " ffffffffffffffff ffffffff",
		},
		{
			name: "v2 with allocation",
			ws: WorkerState{Version: V2, URL: "http://w1:8083/", ConfigOffset: 42, Allocation: &Assignment{
				Leader: "connect-1-abc", LeaderURL: "http://w1:8083/", ConfigOffset: 42,
				Connectors: []string{"c1"}, Tasks: []TaskID{{Connector: "c2", Task: 3}},
			}},
			hex: "0002 " + hexURL + " 000000000000002a" +
				// allocation: 2+2+(2+13)+(2+15)+8 = 44 header bytes, 4+12+12 assigned,
				// 4 revoked, 4 delay: 80 bytes
				" 00000050" +
				" 0002 0000 " + hexLeader + " " + hexURL + " 000000000000002a" +
				" 00000002 0002 6331 00000001 ffffffff 0002 6332 00000001 00000003" +
				" 00000000 00000000",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.hex)
			got, err := EncodeMetadata(tc.ws)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encode:\n got %x\nwant %x", got, want)
			}
			back, err := DecodeMetadata(want)
			if err != nil {
				t.Fatal(err)
			}
			wantWS := tc.ws
			if wantWS.Allocation != nil {
				a := *wantWS.Allocation
				a.Version = wantWS.Version
				wantWS.Allocation = &a
			}
			if !reflect.DeepEqual(back, wantWS) {
				t.Fatalf("decode: got %+v want %+v", back, wantWS)
			}
		})
	}
}

func TestAssignmentGolden(t *testing.T) {
	tests := []struct {
		name string
		a    Assignment
		hex  string
	}{
		{
			name: "v0 connector and two tasks",
			a: Assignment{Version: V0, Leader: "connect-1-abc", LeaderURL: "http://w1:8083/", ConfigOffset: 42,
				Connectors: []string{"c1"}, Tasks: []TaskID{{Connector: "c1", Task: 0}, {Connector: "c1", Task: 1}}},
			hex: "0000 0000 " + hexLeader + " " + hexURL + " 000000000000002a" +
				" 00000001 0002 6331 00000003 ffffffff 00000000 00000001",
		},
		{
			name: "v2 assign c1 and c1-0",
			a: Assignment{Version: V2, Leader: "connect-1-abc", LeaderURL: "http://w1:8083/", ConfigOffset: 42,
				Connectors: []string{"c1"}, Tasks: []TaskID{{Connector: "c1", Task: 0}}},
			hex: "0002 0000 " + hexLeader + " " + hexURL + " 000000000000002a" +
				" 00000001 0002 6331 00000002 ffffffff 00000000 00000000 00000000",
		},
		{
			name: "v1 config mismatch with revocations and delay",
			a: Assignment{Version: V1, Error: ConfigMismatch, Leader: "connect-1-abc", LeaderURL: "http://w1:8083/",
				ConfigOffset: 7, Tasks: []TaskID{{Connector: "c2", Task: 4}, {Connector: "c2", Task: 3}},
				RevokedConnectors: []string{"c1"}, RevokedTasks: []TaskID{{Connector: "c3", Task: 0}},
				Delay: 300 * time.Second},
			hex: "0001 0001 " + hexLeader + " " + hexURL + " 0000000000000007" +
				" 00000001 0002 6332 00000002 00000004 00000003" +
				" 00000002 0002 6331 00000001 ffffffff 0002 6333 00000001 00000000" +
				" 000493e0",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.hex)
			got, err := EncodeAssignment(tc.a)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encode:\n got %x\nwant %x", got, want)
			}
			back, err := DecodeAssignment(want)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tc.a) {
				t.Fatalf("decode: got %+v want %+v", back, tc.a)
			}
		})
	}
}

func TestAssignmentMixedEntriesAndNulls(t *testing.T) {
	// An entry may mix the connector marker and task numbers in any order, and
	// null arrays mean empty.
	b := unhex(t, "0001 0000 "+hexLeader+" "+hexURL+" 0000000000000001"+
		" 00000002 0002 6331 00000003 00000000 ffffffff 00000002 0002 6332 00000000"+
		" ffffffff 00000000")
	a, err := DecodeAssignment(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Connectors, []string{"c1"}) ||
		!reflect.DeepEqual(a.Tasks, []TaskID{{Connector: "c1", Task: 0}, {Connector: "c1", Task: 2}}) ||
		a.RevokedConnectors != nil || a.RevokedTasks != nil || a.Delay != 0 {
		t.Fatalf("got %+v", a)
	}
}

func TestDecodeTolerance(t *testing.T) {
	// A future version is read with the known layout; trailing bytes are ignored.
	b := unhex(t, "0007 "+hexURL+" 000000000000002a ffffffff deadbeef")
	ws, err := DecodeMetadata(b)
	if err != nil {
		t.Fatal(err)
	}
	if ws.Version != 7 || ws.URL != "http://w1:8083/" || ws.ConfigOffset != 42 || ws.Allocation != nil {
		t.Fatalf("got %+v", ws)
	}
	// A v1 header without the allocation field.
	ws, err = DecodeMetadata(unhex(t, "0001 "+hexURL+" 000000000000002a"))
	if err != nil || ws.Allocation != nil {
		t.Fatalf("got %+v, %v", ws, err)
	}
	// Version 0 assignments decode with empty revocations and no delay.
	a, err := DecodeAssignment(unhex(t, "0000 0000 "+hexLeader+" "+hexURL+" 0000000000000001 00000000"))
	if err != nil || a.Delay != 0 || len(a.RevokedTasks) != 0 {
		t.Fatalf("got %+v, %v", a, err)
	}
	for _, bad := range []string{"", "00", "ffff " + hexURL + " 000000000000002a", "0000 0010 6874"} {
		if _, err := DecodeAssignment(unhex(t, bad)); err == nil {
			t.Errorf("DecodeAssignment(%q): want error", bad)
		}
		if _, err := DecodeMetadata(unhex(t, bad)); err == nil {
			t.Errorf("DecodeMetadata(%q): want error", bad)
		}
	}
	// An array count larger than the buffer.
	if _, err := DecodeAssignment(unhex(t, "0001 0000 "+hexLeader+" "+hexURL+" 0000000000000001 7fffffff")); err == nil {
		t.Error("want error for oversized array")
	}
	// A v1 allocation that is cut short.
	if _, err := DecodeMetadata(unhex(t, "0001 "+hexURL+" 000000000000002a 00000010 0001")); err == nil {
		t.Error("want error for short allocation")
	}
}

func TestRoundTrip(t *testing.T) {
	a := Assignment{
		Version: V1, Leader: "l", LeaderURL: "http://l/", ConfigOffset: 99,
		Connectors: []string{"a", "b"}, Tasks: []TaskID{{Connector: "a", Task: 0}, {Connector: "z", Task: 9}, {Connector: "a", Task: 1}},
		RevokedConnectors: []string{"q"}, RevokedTasks: []TaskID{{Connector: "q", Task: 5}}, Delay: 1500 * time.Millisecond,
	}
	b, err := EncodeAssignment(a)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeAssignment(b)
	if err != nil {
		t.Fatal(err)
	}
	// Tasks come back grouped by connector entry, in first-seen order.
	want := a
	want.Tasks = []TaskID{{Connector: "a", Task: 0}, {Connector: "a", Task: 1}, {Connector: "z", Task: 9}}
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("got %+v want %+v", back, want)
	}
	for _, ws := range []WorkerState{
		{Version: V0, URL: "u", ConfigOffset: -1},
		{Version: V1, URL: "u", ConfigOffset: 3, Allocation: &Assignment{Version: V1, Leader: "l", Connectors: []string{"x"}}},
		{Version: V2, URL: "", ConfigOffset: 0},
	} {
		b, err := EncodeMetadata(ws)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeMetadata(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, ws) {
			t.Fatalf("got %+v want %+v", back, ws)
		}
	}
}

func TestModes(t *testing.T) {
	for in, want := range map[string][]string{
		"eager":      {"default"},
		"Compatible": {"compatible", "default"},
		"SESSIONED":  {"sessioned", "compatible", "default"},
	} {
		m, err := ParseMode(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Protocols(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v want %v", in, got, want)
		}
	}
	if _, err := ParseMode("cooperative"); err == nil {
		t.Error("want error")
	}
	if got := Mode("").Protocols(); len(got) != 3 {
		t.Errorf("empty mode should default to sessioned, got %v", got)
	}
}
