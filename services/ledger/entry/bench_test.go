package entry

import (
	"bytes"
	"syscall"
	"testing"
	"time"

	"github.com/pipa-kr/pipa/pkg/seal"
)

// BenchmarkAccessLeaf: what an ingested access record costs to write as a leaf, per record, in
// its committed form (salts, commitments, the sealed blob) and, beside it, the earlier form with
// the record in clear (the same leaf lines, nothing committed or sealed). cpu-ns/op is the
// process's CPU time per record, which a loaded machine does not inflate as it does ns/op:
//
//	cd services/ledger/entry && go test -run '^$' -bench BenchmarkAccessLeaf -benchmem .
func BenchmarkAccessLeaf(b *testing.B) {
	box, err := seal.New(map[string][]byte{"bench": bytes.Repeat([]byte{7}, seal.KeySize)}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	e := downloadRecord()
	b.Run("committed", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			c, err := Commit(e, nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Leaf(testLog, 123456); err != nil {
				b.Fatal(err)
			}
			if _, err := box.Seal(c.Sealed.Marshal(), []byte(testLog+"/ledger/entries/123456")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("clear", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			if _, err := write(testLog, 123456, e, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// cpuPerOp reports, when the returned func runs, the process's CPU time per op since.
func cpuPerOp(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() { b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op") }
}
