package distributed

import (
	"testing"

	"github.com/ferryhq/ferry/runtime/herder"
)

func TestSupersededStatusWrites(t *testing.T) {
	t0 := herder.TaskID{Connector: "c", Task: 0}
	t1 := herder.TaskID{Connector: "c", Task: 1}
	conn := statusWrite{connector: "c", state: herder.StateRunning}
	task0 := statusWrite{connector: "c", task: &t0, state: herder.StateRunning}
	topic := statusWrite{connector: "c", topic: "orders"}
	later := []statusWrite{
		{connector: "c", task: &t1, state: herder.StateFailed},
		{connector: "c", topic: "other"},
		{connector: "d", state: herder.StateRunning},
	}
	for _, w := range []statusWrite{conn, task0, topic} {
		if superseded(later, w) {
			t.Errorf("%s superseded by unrelated updates", w.recordKey())
		}
	}
	t0again := t0
	later = append(later, statusWrite{connector: "c", task: &t0again, tombstone: true},
		statusWrite{connector: "c", state: herder.StateFailed}, statusWrite{connector: "c", topic: "orders", tombstone: true})
	for _, w := range []statusWrite{conn, task0, topic} {
		if !superseded(later, w) {
			t.Errorf("%s not superseded by a later update of the same record", w.recordKey())
		}
	}
}
