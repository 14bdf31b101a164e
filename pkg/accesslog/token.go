package accesslog

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// TokenFile is a token source (for Options.Token) that reads a bearer token from path, as a
// production deployment provides the service credential: a token from the OIDC issuer, with the
// service role on scope "*" in its roles claim, written to a file and rotated there by the
// platform (a Kubernetes projected volume, a Vault agent). The file is re-read at most every
// refresh, so a rotated token is picked up without a restart. Development uses
// auth.DevServiceToken instead.
func TokenFile(path string, refresh time.Duration) func() (string, error) {
	var (
		mu     sync.Mutex
		token  string
		readAt time.Time
	)
	return func() (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if token != "" && time.Since(readAt) < refresh {
			return token, nil
		}
		b, err := os.ReadFile(path)
		if err == nil && strings.TrimSpace(string(b)) == "" {
			err = errors.New("empty")
		}
		if err != nil {
			if token != "" {
				return token, nil // keep the last good token; the verifier says when it expires
			}
			return "", fmt.Errorf("accesslog: service token file %s: %w", path, err)
		}
		token, readAt = strings.TrimSpace(string(b)), time.Now()
		return token, nil
	}
}
