// Command lawindex lists, for each rule id of LAW.md, the files of the repository that enforce
// it (code citing the id) and the tests that name it, writes the list as docs/LAW-INDEX.md, and
// fails when code cites a rule that no test names: a rule the code claims to enforce is a rule a
// test must hold it to. `make test` runs it and fails when the file it writes differs from the
// committed one.
//
//	go run ./pkg/cmd/lawindex -law ../shared/design/LAW.md -out docs/LAW-INDEX.md
//
// It reads the files git knows in the current directory (tracked, and untracked ones not
// ignored): Go and SQL, less generated code (pkg/gen, and any file marked "Code generated … DO
// NOT EDIT.", such as the contract tests' OpenAPI client, which repeats the protos' comments)
// and itself.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

func main() {
	law := flag.String("law", "../shared/design/LAW.md", "the law catalogue whose rule ids are indexed")
	out := flag.String("out", "docs/LAW-INDEX.md", "where the index is written")
	flag.Parse()
	if err := run(*law, *out); err != nil {
		fmt.Fprintln(os.Stderr, "lawindex:", err)
		os.Exit(1)
	}
}

func run(lawPath, outPath string) error {
	law, err := os.ReadFile(lawPath)
	if err != nil {
		return fmt.Errorf("%w (the design documents are beside the repository, in ../shared/design)", err)
	}
	ids := ruleIDs(string(law))
	if len(ids) == 0 {
		return fmt.Errorf("%s defines no rule ids", lawPath)
	}
	files, err := sources()
	if err != nil {
		return err
	}
	x := Build(ids, files, isTest)
	if err := os.WriteFile(outPath, []byte(x.Markdown("../shared/design/LAW.md")), 0o644); err != nil {
		return err
	}
	if u := x.Untested(); len(u) > 0 {
		var b strings.Builder
		for _, id := range u {
			fmt.Fprintf(&b, "\n  %s, cited in %s", id, strings.Join(x.Code[id], ", "))
		}
		return fmt.Errorf("code cites rules that no test names (add a test that holds the code to each):%s", b.String())
	}
	return nil
}

// sources are the Go and SQL files git knows here, by path.
func sources() (map[string]string, error) {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.go", "*.sql")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	list, err := cmd.Output()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("git ls-files: %w", err), errors.New(stderr.String()))
	}
	files := map[string]string{}
	for _, path := range strings.Split(strings.TrimSuffix(string(list), "\x00"), "\x00") {
		if path == "" || strings.HasPrefix(path, "pkg/gen/") || strings.HasPrefix(path, "pkg/cmd/lawindex/") {
			continue
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the work tree, not yet in the index
		}
		if err != nil {
			return nil, err
		}
		if generated.Match(b) {
			continue
		}
		files[path] = string(b)
	}
	return files, nil
}

// generated is Go's marker of generated code (go help generate).
var generated = regexp.MustCompile(`(?m)^// Code generated .* DO NOT EDIT\.$`)

// isTest tells a test from code: a _test.go file, or a file of a test-support package, whose
// directory is named …test (pgtest, stacktest, registrytest).
func isTest(path string) bool {
	if strings.HasSuffix(path, "_test.go") {
		return true
	}
	for _, dir := range strings.Split(filepath.ToSlash(filepath.Dir(path)), "/") {
		if strings.HasSuffix(dir, "test") {
			return true
		}
	}
	return false
}
