package runtime

import "testing"

func TestMaxPollRecordsPrecedence(t *testing.T) {
	for _, c := range []struct {
		worker, conn map[string]string
		want         int
	}{
		{nil, nil, 0},
		{map[string]string{"consumer.max.poll.records": "2000"}, nil, 2000},
		{map[string]string{"consumer.max.poll.records": "2000"}, map[string]string{"consumer.override.max.poll.records": " 50 "}, 50},
		{map[string]string{"consumer.max.poll.records": "2000"}, map[string]string{"consumer.override.max.poll.records": "zero"}, 2000},
		{nil, map[string]string{"consumer.override.max.poll.records": "0"}, 0},
	} {
		if got := maxPollRecords(c.worker, c.conn); got != c.want {
			t.Errorf("maxPollRecords(%v, %v) = %d, want %d", c.worker, c.conn, got, c.want)
		}
	}
}
