// Package retentiontest moves the retention service's clock and drives its jobs, for the tests of
// the retention service and the journeys that cross it.
package retentiontest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	kst "github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/services/retention"
	"github.com/pipa-kr/pipa/services/retention/store/pg"
)

// Clock is the retention service's clock: real time until a test sets it.
type Clock struct {
	mu sync.Mutex
	at time.Time
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() {
		return time.Now()
	}
	return c.at
}

// Set stops the clock at at; the zero time gives it back to real time.
func (c *Clock) Set(at time.Time) {
	c.mu.Lock()
	c.at = at
	c.mu.Unlock()
}

// Pin sets the clock to at until the test ends.
func (c *Clock) Pin(t testing.TB, at time.Time) {
	c.Set(at)
	t.Cleanup(func() { c.Set(time.Time{}) })
}

// Today is today 00:00 in Seoul, taken two hours before now, so that every time of "today" up to
// 01:00 is in the past: the other services keep real time, and the ledger refuses records of
// what has not happened yet.
func Today() time.Time {
	l := time.Now().Add(-2 * time.Hour).In(kst.Location)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, kst.Location)
}

// Enqueue inserts a retention job as another replica would; the service's own River client works it.
func Enqueue(t testing.TB, db *pgxpool.Pool, args river.JobArgs) int64 {
	t.Helper()
	client, err := river.NewClient(riverpgxv5.New(db), &river.Config{Schema: pg.Schema})
	require.NoError(t, err)
	res, err := client.Insert(context.Background(), args, nil)
	require.NoError(t, err)
	return res.Job.ID
}

// WaitJob waits for a retention job to complete.
func WaitJob(t testing.TB, db *pgxpool.Pool, id int64) {
	t.Helper()
	require.Eventually(t, func() bool {
		var state string
		err := db.QueryRow(context.Background(), `SELECT state FROM retention.river_job WHERE id = $1`, id).Scan(&state)
		return err == nil && state == "completed"
	}, 30*time.Second, 50*time.Millisecond, "job %d completes", id)
}

// Started waits for the jobs the retention service runs when its queue's leader starts
// (RunOnStart): the sweep of every unit and the units' sweeps it enqueued, the copy reminders and
// the C-9 check, so that none runs at a time a test sets later. A leader can be elected seconds
// after the service starts on a busy machine; a sweep it starts then races the test's own.
func Started(t testing.TB, db *pgxpool.Pool) {
	t.Helper()
	kinds := []string{retention.SweepAllArgs{}.Kind(), retention.RemindCopiesArgs{}.Kind(), retention.CheckCopiesArgs{}.Kind()}
	require.Eventually(t, func() bool {
		var done, pending int
		err := db.QueryRow(context.Background(), `SELECT
				count(DISTINCT kind) FILTER (WHERE kind = ANY($1) AND state = 'completed'),
				count(*) FILTER (WHERE kind = $2 AND state NOT IN ('completed', 'cancelled', 'discarded'))
			FROM retention.river_job`, kinds, retention.SweepUnitArgs{}.Kind()).Scan(&done, &pending)
		return err == nil && done == len(kinds) && pending == 0
	}, 30*time.Second, 20*time.Millisecond, "the start-up jobs run")
}
