package ledger_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// clockTicks is the unit of /proc/{pid}/stat's CPU times (USER_HZ, 100 on Linux).
const clockTicks = 100

// cpuMeter measures the CPU time a benchmark case costs on both sides: this process (the whole
// stack's Go side and the load clients) and the PostgreSQL cluster the stack uses, when it runs on
// this machine (its postmaster and every backend, those that exited included). A shared machine
// makes rates noisy; CPU per record is what a case costs, whatever else runs.
type cpuMeter struct {
	postmaster int // 0 when the cluster is not on this machine
	self, db   time.Duration
}

// newCPUMeter finds the cluster of databaseURL through one backend's parent process.
func newCPUMeter(b *testing.B, databaseURL string) *cpuMeter {
	pool, err := pgxpool.New(context.Background(), databaseURL)
	require.NoError(b, err)
	defer pool.Close()
	var backend int
	require.NoError(b, pool.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&backend))
	m := &cpuMeter{}
	if st, ok := procStat(backend); ok {
		m.postmaster, _ = strconv.Atoi(st[1])
	}
	return m
}

// start notes the CPU used so far.
func (m *cpuMeter) start(b *testing.B) { m.self, m.db = processCPU(b), m.clusterCPU() }

// report reports the CPU used since start per record: "cpu-µs/record" of this process and
// "db-cpu-µs/record" of the cluster.
func (m *cpuMeter) report(b *testing.B, records int) {
	self, db := processCPU(b)-m.self, m.clusterCPU()-m.db
	b.ReportMetric(float64(self.Microseconds())/float64(records), "cpu-µs/record")
	if m.postmaster != 0 {
		b.ReportMetric(float64(db.Microseconds())/float64(records), "db-cpu-µs/record")
	}
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clusterCPU is the CPU time of the postmaster, of its live children and of those it reaped. A
// live process's time is read in nanoseconds (/proc/{pid}/schedstat): /proc/{pid}/stat gives it
// in whole ticks, and 64 backends of a few milliseconds each read as none.
func (m *cpuMeter) clusterCPU() time.Duration {
	if m.postmaster == 0 {
		return 0
	}
	var ticks int64
	if st, ok := procStat(m.postmaster); ok {
		for _, f := range st[13:15] { // cutime, cstime: the children it reaped
			n, _ := strconv.ParseInt(f, 10, 64)
			ticks += n
		}
	}
	total := time.Duration(ticks) * time.Second / clockTicks
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(d))
		if st, ok := procStat(pid); ok && (pid == m.postmaster || st[1] == strconv.Itoa(m.postmaster)) {
			total += onCPU(pid)
		}
	}
	return total
}

// onCPU is the time process pid has run (/proc/{pid}/schedstat's first field), 0 once it is gone.
func onCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/schedstat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	ns, _ := strconv.ParseInt(f[0], 10, 64)
	return time.Duration(ns)
}

// procStat is /proc/{pid}/stat's fields after the command: [0] the state, [1] the parent's pid,
// [11] utime, [12] stime, [13] cutime, [14] cstime (proc(5) fields 3 to 17).
func procStat(pid int) ([]string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, false
	}
	f := strings.Fields(s[i+1:])
	return f, len(f) >= 15
}
