package pg

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// SetBeforeCommit installs a hook that runs after a batch's writes, before its COMMIT.
func SetBeforeCommit(s *Store, f func(ctx context.Context, tx pgx.Tx, appended int) error) {
	s.beforeCommit = f
}

// QueueLen is the number of appends waiting for the log's next transaction.
func QueueLen(s *Store, tenant, unit string) int {
	return s.sequencer(tenant, unit).queue.len()
}

// ReadyLen is the number of logs' batches waiting for a combined transaction.
func ReadyLen(s *Store) int {
	return s.ready.len()
}

// EntriesSQL is Entries' query for f.
func EntriesSQL(f Filter) string { return entriesSQL(f) }
