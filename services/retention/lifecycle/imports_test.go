package lifecycle

import (
	"go/build"
	"strings"
	"testing"
)

// The domain is plain Go: it speaks neither gRPC nor SQL (its callers do).
func TestImportsNoTransport(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.HasPrefix(imp, "google.golang.org/grpc") || strings.HasPrefix(imp, "github.com/jackc/pgx") {
			t.Errorf("the domain imports %s", imp)
		}
	}
}
