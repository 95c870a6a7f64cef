package task

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/testbed"
	"github.com/ferryhq/ferry/runtime/herder"
)

// Every task goroutine and client must be gone when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// stringConverter stores strings as their bytes. The value "poison" cannot
// be converted either way, to play a bad record.
type stringConverter struct{}

func (stringConverter) Configure(map[string]string, bool) error { return nil }

func (stringConverter) FromConnectData(_ string, _ *connect.Schema, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if x == "poison" {
			return nil, connect.NewDataError("cannot convert poison", nil)
		}
		return []byte(x), nil
	case []byte:
		return x, nil
	}
	return []byte(fmt.Sprint(v)), nil
}

func (stringConverter) ToConnectData(_ string, data []byte) (connect.SchemaAndValue, error) {
	if data == nil {
		return connect.SchemaAndValue{}, nil
	}
	if string(data) == "poison" {
		return connect.SchemaAndValue{}, connect.NewDataError("Converting byte[] to Kafka Connect data failed due to serialization error", errors.New("unexpected token 'poison'"))
	}
	return connect.SchemaAndValue{Value: string(data)}, nil
}

type stringHeaderConverter struct{}

func (stringHeaderConverter) Configure(map[string]string) error { return nil }

func (stringHeaderConverter) FromConnectHeader(_, _ string, _ *connect.Schema, v any) ([]byte, error) {
	return []byte(fmt.Sprint(v)), nil
}

func (stringHeaderConverter) ToConnectHeader(_, _ string, data []byte) (connect.SchemaAndValue, error) {
	return connect.SchemaAndValue{Value: string(data)}, nil
}

// transformFunc adapts a function to Transformer.
type transformFunc func(*connect.Record) (*connect.Record, error)

func (f transformFunc) Apply(r *connect.Record) (*connect.Record, error) { return f(r) }

// events records status transitions.
type events struct {
	mu   sync.Mutex
	list []string
	errs []error
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, s)
}

func (e *events) OnStartup(herder.TaskID)  { e.add("startup") }
func (e *events) OnPause(herder.TaskID)    { e.add("pause") }
func (e *events) OnResume(herder.TaskID)   { e.add("resume") }
func (e *events) OnShutdown(herder.TaskID) { e.add("shutdown") }
func (e *events) OnFailure(_ herder.TaskID, err error) {
	e.mu.Lock()
	e.errs = append(e.errs, err)
	e.mu.Unlock()
	e.add("failure")
}

func (e *events) snapshot() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.list...)
}

func (e *events) failure() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.errs) == 0 {
		return nil
	}
	return e.errs[0]
}

func (e *events) count(s string) int {
	n := 0
	for _, x := range e.snapshot() {
		if x == s {
			n++
		}
	}
	return n
}

func (e *events) waitFor(t *testing.T, s string, n int) {
	t.Helper()
	testbed.WaitFor(t, 30*time.Second, 5*time.Millisecond, func() (bool, string) {
		return e.count(s) >= n, fmt.Sprintf("waiting for %d %q, events %v (failure %v)", n, s, e.snapshot(), e.failure())
	})
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("FERRY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

func baseSpec(t *testing.T, bootstrap, connector string, l StatusListener) Spec {
	return Spec{
		ID:              herder.TaskID{Connector: connector, Task: 0},
		TaskConfig:      map[string]string{},
		KeyConverter:    stringConverter{},
		ValueConverter:  stringConverter{},
		HeaderConverter: stringHeaderConverter{},
		Logger:          testLogger(t),
		Listener:        l,
		KafkaOpts:       []kgo.Opt{kgo.SeedBrokers(strings.Split(bootstrap, ",")...)},
	}
}

// runTask runs r in a goroutine and makes sure it is stopped at test end.
func runTask(t *testing.T, r Runner) {
	t.Helper()
	go r.Run(context.Background())
	t.Cleanup(func() { stopAndWait(t, r) })
}

func stopAndWait(t *testing.T, r Runner) {
	t.Helper()
	r.Stop()
	select {
	case <-r.Done():
	case <-time.After(60 * time.Second):
		t.Fatalf("task %s did not stop", r.ID())
	}
}
