package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The public pages as a citizen's browser shows them: each is loaded in headless Chromium
// (Debian's chromium package), its rendered DOM checked, and a screenshot written to docs/ when
// PIPA_SCREENSHOTS is set (`make screenshots`). Without Chromium the test says so and skips:
// `make screenshots` installs it.
func TestPublicPagesInChromium(t *testing.T) {
	t.Parallel()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed: run `make screenshots` (installs Debian's chromium as root)")
	}
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	pages := []struct{ name, path, want string }{
		{"policy-cctv", "/p/jeongeup/library/cctv", "영상정보처리기기 운영·관리방침"},
		{"request-form", "/p/jeongeup/library/requests/new", "개인정보 열람 등 요구서"},
		{"request-status", "/p/requests/status", "처리 상태"},
	}
	profile := t.TempDir()
	run := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, chromium, append([]string{"--headless", "--no-sandbox", "--disable-gpu",
			"--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
			"--disable-sync", "--user-data-dir=" + profile, "--window-size=1280,1800"}, args...)...).Output()
		require.NoError(t, err, "chromium %v", args)
		return string(out)
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			dom := run("--dump-dom", s.URL+p.path)
			require.Contains(t, dom, `lang="ko"`)
			require.Contains(t, dom, p.want, "the page as rendered")
			require.NotContains(t, dom, "<script", "the public pages work without JavaScript")
			if dir := os.Getenv("PIPA_SCREENSHOTS"); dir != "" {
				file, err := filepath.Abs(filepath.Join(dir, p.name+".png"))
				require.NoError(t, err)
				run("--screenshot="+file, s.URL+p.path)
				info, err := os.Stat(file)
				require.NoError(t, err)
				require.Greater(t, info.Size(), int64(10_000), "a screenshot of a rendered page")
			}
		})
	}
}
