package breach

import (
	"testing"

	"github.com/pipa-kr/pipa/pkg/layering"
)

// The breach domain (its state machine, clocks and rules) is plain Go: it speaks neither gRPC nor SQL (its callers do).
func TestImportsNoTransport(t *testing.T) { layering.RequireDomain(t, ".") }
