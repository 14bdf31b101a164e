package main

import (
	"os"
	"runtime/debug"
)

// The garbage collector's settings, unless the operator sets GOGC or GOMEMLIMIT. A profile of
// appends over REST (issue 18, services/ledger/BENCHMARKS.md) showed about a quarter of pipa's
// CPU in allocation and collection with Go's defaults (GOGC=100), on a live heap of some 30 MiB.
// Collecting when the heap has grown by 400 % instead of 100 % cuts the collections to a quarter,
// and a soft limit keeps that from growing without bound: near gcMemoryLimit the collector runs
// as often as it must. 10,000 units' logs open stay well under it (the bound is 512 MiB).
const (
	gcPercent     = 400
	gcMemoryLimit = 448 << 20
)

// tuneGC applies them (a process that sets either variable keeps Go's handling of both).
func tuneGC() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(gcPercent)
	debug.SetMemoryLimit(gcMemoryLimit)
}
