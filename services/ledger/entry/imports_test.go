package entry

import (
	"testing"

	"github.com/pipa-kr/pipa/pkg/layering"
)

// The domain is plain Go: it speaks neither gRPC nor SQL (its callers do).
func TestImportsNoTransport(t *testing.T) { layering.RequireDomain(t, ".") }
