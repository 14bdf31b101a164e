package clock

import (
	"testing"

	"github.com/pipa-kr/pipa/pkg/layering"
)

// The calendar (due dates in business days) is plain Go: it speaks neither gRPC nor SQL (its callers do).
func TestImportsNoTransport(t *testing.T) { layering.RequireDomain(t, ".") }
