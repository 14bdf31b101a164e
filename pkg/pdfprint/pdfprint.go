// Package pdfprint prints an HTML page to PDF with headless Chromium (Debian's chromium,
// `--headless --print-to-pdf`), the page's own print stylesheet (@page, @media print) deciding
// its layout. A printable notice is the page the requester would see, so no second layout engine
// or PDF library is kept beside it. Where Chromium is not installed it says so (ErrNoBrowser),
// and nothing else stands in for it.
package pdfprint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Chromium is the browser's command, as Debian installs it.
const Chromium = "chromium"

// ErrNoBrowser: the browser is not installed (on PATH).
var ErrNoBrowser = errors.New("pdfprint: chromium is not installed")

// timeout bounds one print: Chromium's start and the page's layout (seconds on a quiet machine,
// tens of them on a loaded one), within the route's server.Limits.PrintTimeout.
const timeout = 100 * time.Second

// Printer prints with the browser Command, at most Parallel prints at once (each is a Chromium
// process of its own).
type Printer struct {
	command string
	slots   chan struct{}
}

// New returns a printer that runs command (Chromium when empty), parallel at a time.
func New(command string, parallel int) *Printer {
	if command == "" {
		command = Chromium
	}
	return &Printer{command: command, slots: make(chan struct{}, max(parallel, 1))}
}

// Command is the browser the printer runs.
func (p *Printer) Command() string { return p.command }

// Print renders page (a whole HTML document, UTF-8) as PDF: A4 unless its @page says otherwise,
// without the browser's header and footer. ErrNoBrowser when the browser is missing.
func (p *Printer) Print(ctx context.Context, page []byte) ([]byte, error) {
	bin, err := exec.LookPath(p.command)
	if err != nil {
		return nil, fmt.Errorf("%w (%s: %v)", ErrNoBrowser, p.command, err)
	}
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	dir, err := os.MkdirTemp("", "pipa-pdf-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "page.html"), filepath.Join(dir, "page.pdf")
	if err := os.WriteFile(in, page, 0o600); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The page is pipa's own (no script, no remote resource); the sandbox needs user namespaces
	// a container often lacks, and a profile of its own keeps prints apart.
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-pdf-header-footer", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--print-to-pdf="+out, "file://"+in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("pdfprint: %s: %w: %s", p.command, err, tail(stderr.Bytes()))
	}
	pdf, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		return nil, fmt.Errorf("pdfprint: %s wrote no PDF: %s", p.command, tail(stderr.Bytes()))
	}
	return pdf, nil
}

// tail is the end of a browser's error output, for the error.
func tail(b []byte) string {
	const n = 500
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}
