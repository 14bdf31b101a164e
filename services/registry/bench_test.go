package registry_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkPublicPolicy loads the public CCTV policy of seed 000 through the whole stack (HTTP →
// gateway → gRPC → registry → PostgreSQL) from 64 concurrent clients (GOMAXPROCS × 32), as a page,
// as JSON, and as a revalidation (If-None-Match → 304). "static" serves the same page bytes from
// memory with net/http, the floor a published page is compared with. Run with `make bench`.
func BenchmarkPublicPolicy(b *testing.B) {
	s := startStack(b)
	s.Load("jeongeup-library.yaml")
	page := s.Get("/p/jeongeup/library/cctv", "Accept-Encoding", "identity")
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	etag := page.Header.Get("ETag")

	static := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", etag)
		http.ServeContent(w, r, "cctv.html", time.Time{}, bytes.NewReader(html))
	}))
	defer static.Close()

	// Accept-Encoding is set on every request, so that Go's client neither asks for gzip nor
	// decompresses behind the benchmark's back.
	for _, c := range []struct {
		name, url, ifNoneMatch, encoding string
		want                             int
	}{
		{"page", s.URL + "/p/jeongeup/library/cctv", "", "identity", http.StatusOK},
		{"page-gzip", s.URL + "/p/jeongeup/library/cctv", "", "gzip", http.StatusOK},
		{"json", s.URL + "/v1/public/tenants/jeongeup/units/library/policies/cctv", "", "identity", http.StatusOK},
		{"page-304", s.URL + "/p/jeongeup/library/cctv", etag, "identity", http.StatusNotModified},
		{"static", static.URL, "", "identity", http.StatusOK},
	} {
		b.Run(c.name, func(b *testing.B) { loadRun(b, c.url, c.ifNoneMatch, c.encoding, c.want) })
	}
}

// loadRun issues GETs from parallel clients and reports throughput and latency quantiles.
func loadRun(b *testing.B, url, ifNoneMatch, encoding string, want int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	var all []time.Duration
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Accept-Encoding", encoding)
			if ifNoneMatch != "" {
				req.Header.Set("If-None-Match", ifNoneMatch)
			}
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mine = append(mine, time.Since(start))
			if resp.StatusCode != want {
				b.Errorf("status %d, want %d", resp.StatusCode, want)
				return
			}
		}
		mu.Lock()
		all = append(all, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(len(all))/b.Elapsed().Seconds(), "req/s")
		b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	}
}
