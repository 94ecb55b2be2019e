package notify

import (
	"testing"

	"go.uber.org/goleak"
)

// The tests start HTTP and SMTP servers; none may outlive its test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
