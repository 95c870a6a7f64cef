package testbed

import (
	"testing"

	"go.uber.org/goleak"
)

// The helpers own clients and kfake clusters; none may outlive its test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
