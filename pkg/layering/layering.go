// Package layering checks, in a package's tests, which layer its imports put it in: a service's
// domain package (the ledger's entry; requests' request, breach and clock; retention's lifecycle)
// is plain Go that speaks neither gRPC nor SQL, so that its rules read and test without a
// transport or a database.
package layering

import (
	"go/build"
	"strings"
	"testing"
)

// transports are the import paths a domain package must not use.
var transports = []string{"google.golang.org/grpc", "github.com/jackc/pgx"}

// RequireDomain fails t when the package in dir (its test's own, ".") imports gRPC or pgx.
func RequireDomain(t testing.TB, dir string) {
	t.Helper()
	pkg, err := build.ImportDir(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		for _, tr := range transports {
			if strings.HasPrefix(imp, tr) {
				t.Errorf("the domain package %s imports %s", pkg.ImportPath, imp)
			}
		}
	}
}
