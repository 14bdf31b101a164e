package ledgerout

import (
	"context"
	"time"
)

// DrainPass is drainPass, for the package's external tests.
func (o *Outbox) DrainPass(ctx context.Context, stop time.Time) (int, error) {
	return o.drainPass(ctx, stop)
}
