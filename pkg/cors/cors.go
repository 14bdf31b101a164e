package cors

import (
	"net/http"
	"slices"

	"github.com/rs/cors"
)

// maxAge lets a browser reuse a preflight answer for ten minutes (Chromium caps it at two hours).
const maxAge = 600

// Handler answers CORS requests from origins (scheme://host[:port], exactly as the browser sends
// them) and passes everything to next. With no origins it adds no CORS headers, so browsers keep
// their same-origin policy.
func Handler(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	opts := cors.Options{
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodOptions},
		AllowedHeaders: []string{"Authorization", "Content-Type", "If-Match", "If-None-Match"},
		ExposedHeaders: []string{"ETag", "Retry-After"},
		MaxAge:         maxAge,
	}
	if slices.Contains(origins, "*") {
		opts.AllowedOrigins = []string{"*"}
	} else {
		// AllowOriginFunc rather than AllowedOrigins, which would read a "*" inside an entry as a
		// pattern and fold case.
		allowed := slices.Clone(origins)
		opts.AllowOriginFunc = func(origin string) bool { return slices.Contains(allowed, origin) }
		opts.AllowCredentials = true
	}
	return cors.New(opts).Handler(next)
}
