// Package lifecycle is the vocabulary of a connector's life that the stores,
// the runtime and the REST API share: task ids, the target state a user asks
// for and the state a status reports. It imports nothing of Ferry, so the
// storage layer can persist these without depending on the runtime.
package lifecycle

import "fmt"

// TaskID names one task of a connector. Its string form is "<c>-<n>".
type TaskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

func (t TaskID) String() string { return fmt.Sprintf("%s-%d", t.Connector, t.Task) }

// TargetState is the state a user asked a connector to be in.
type TargetState string

// Target states, as stored in the config topic.
const (
	TargetStarted TargetState = "STARTED"
	TargetPaused  TargetState = "PAUSED"
	TargetStopped TargetState = "STOPPED"
)

// State is the runtime state reported in status.
type State string

// Runtime states.
const (
	StateUnassigned State = "UNASSIGNED"
	StateRunning    State = "RUNNING"
	StatePaused     State = "PAUSED"
	StateStopped    State = "STOPPED"
	StateFailed     State = "FAILED"
	StateRestarting State = "RESTARTING"
)

// RestartInfo is the automatic restart state of a connector or task, a
// Ferry extension of the status entities (Apache clients ignore unknown
// fields). It is absent until the first automatic restart and again once a
// healthy run cleared the count.
type RestartInfo struct {
	// Attempts counts the automatic restarts since the last healthy run.
	Attempts int `json:"attempts"`
	// NextAttempt is when the next restart is due (RFC 3339, UTC); absent
	// when none is scheduled (running, or restarts given up).
	NextAttempt string `json:"next_attempt,omitempty"`
}
