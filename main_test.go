package sse

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain is the package's only TestMain: it fails the test binary if any
// goroutine (a dispatcher, a connection, a timer callback) outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
