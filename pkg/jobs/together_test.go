package jobs_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/jobs"
)

// runner records its starts and stops in log; fail makes its Start fail.
type runner struct {
	name string
	log  *[]string
	fail bool
}

func (r runner) Start(context.Context) error {
	if r.fail {
		return errors.New(r.name + " cannot start")
	}
	*r.log = append(*r.log, "start "+r.name)
	return nil
}

func (r runner) Stop(context.Context) error {
	*r.log = append(*r.log, "stop "+r.name)
	return nil
}

// A service's background work starts in order and stops in reverse (its outbound before its
// River client); a part that cannot start stops those already started, so that nothing runs on.
func TestTogether(t *testing.T) {
	var log []string
	both := jobs.Together(runner{"queue", &log, false}, runner{"outbound", &log, false})
	require.NoError(t, both.Start(t.Context()))
	require.NoError(t, both.Stop(t.Context()))
	require.Equal(t, []string{"start queue", "start outbound", "stop outbound", "stop queue"}, log)

	log = nil
	err := jobs.Together(runner{"queue", &log, false}, runner{"outbound", &log, true}).Start(t.Context())
	require.ErrorContains(t, err, "outbound cannot start")
	require.Equal(t, []string{"start queue", "stop queue"}, log)
}
