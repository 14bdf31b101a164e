package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
)

// growthRow is one case at one scale of the cost-growth table.
type growthRow struct {
	kind  string
	units int
	r     result
}

// growth measures how cost grows with the number of units (issue 18): for each of -growth's
// scales, ascending, on the same pipa and database (a smaller scale's units are the first of the
// next one's, -units to a tenant), it makes the scale's new units with a personal-information
// file and an automatic retention rule on it each, then measures, each case on a pipa that has
// settled from the last:
//
//   - the public page (identity) while that many units exist;
//   - the first append to each new unit's log (its head and key made);
//   - appends over REST spread over every unit's log;
//   - request intake over REST spread over every unit;
//   - -sweep-items retention items created over REST for every unit, each already due;
//   - the retention sweep of every unit to completion, SweepUnit over REST as an operator calls
//     it, -sweep-clients units at a time (as the River queue's workers sweep them), each sweep
//     checked to have destroyed its unit's due items;
//
// and prints the markdown table of rate, p99, pipa's CPU per operation and memory.
func (b *bench) growth(ctx context.Context, add func(result, error) error) error {
	var rows []growthRow
	made := 0
	for _, n := range b.o.growth {
		units := benchUnits(n, b.o.units)
		fresh := units[min(made, n):]
		start := time.Now()
		if err := b.setupUnits(ctx, fresh); err != nil {
			return err
		}
		if err := b.setupRetention(ctx, fresh); err != nil {
			return err
		}
		fmt.Printf("\n%d units (%d new, made with their files and retention rules in %s)\n", n, len(fresh), time.Since(start).Round(time.Millisecond))
		cases := []struct {
			kind string
			run  func() result
		}{
			{"public page (identity)", func() result {
				return b.gets(ctx, fmt.Sprintf("public page, identity, %d units", n), b.o.url+b.o.page, false)
			}},
			{"a log's first append (the new logs)", func() result {
				return b.openLogs(ctx, fmt.Sprintf("REST first append, %d new logs", len(fresh)), fresh)
			}},
			{"appends (REST), every log open", func() result { return b.appends(ctx, fmt.Sprintf("REST append, %d logs", n), units, false) }},
			{"request intake (REST)", func() result { return b.intake(ctx, fmt.Sprintf("REST request intake, %d units", n), units) }},
			{fmt.Sprintf("retention item created (REST), %d a unit", b.o.sweepItems), func() result {
				return b.createItems(ctx, fmt.Sprintf("REST retention items, %d units", n), units, n)
			}},
			{fmt.Sprintf("retention sweep of every unit (REST, %d at a time): rate and CPU per unit", b.o.sweepClients), func() result {
				return b.sweep(ctx, fmt.Sprintf("REST retention sweep, %d units", n), units)
			}},
		}
		for _, c := range cases {
			if len(fresh) == 0 && strings.HasPrefix(c.kind, "a log's first") {
				continue
			}
			b.settle()
			r := c.run()
			if err := add(r, nil); err != nil {
				return err
			}
			rows = append(rows, growthRow{kind: c.kind, units: n, r: r})
		}
		made = max(made, n)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("\nload average after: %s\n\nHow cost grows with the number of units:\n\n", strings.TrimSpace(string(load)))
	printGrowth(rows)
	return nil
}

// printGrowth prints rows as a markdown table, grouped by case in the order they first ran.
func printGrowth(rows []growthRow) {
	fmt.Println("| case | units | rate/s | p99 ms | pipa CPU/op | pipa RSS | note |")
	fmt.Println("|---|---|---|---|---|---|---|")
	var kinds []string
	for _, r := range rows {
		if !slices.Contains(kinds, r.kind) {
			kinds = append(kinds, r.kind)
		}
	}
	for _, k := range kinds {
		first := true
		for _, r := range rows {
			if r.kind != k {
				continue
			}
			name := ""
			if first {
				name, first = k, false
			}
			note := r.r.note
			if r.r.errs > 0 {
				note = strings.TrimSpace(fmt.Sprintf("%s %d ERRORS (first: %v)", note, r.r.errs, r.r.firstErr))
			}
			fmt.Printf("| %s | %s | %s | %s | %s | %s | %s |\n", name, thousands(int64(r.units)), thousands(int64(r.r.rate()+0.5)),
				thousands(int64(ms(r.r.p99)+0.5)), micros(r.r.cpuPerOp), mib(r.r.rss), note)
		}
	}
}

func micros(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return thousands(d.Microseconds()) + " µs"
}

func mib(b int64) string {
	if b <= 0 {
		return ""
	}
	return strconv.FormatInt(b>>20, 10) + " MiB"
}

// thousands formats n with commas, as the tables in BENCHMARKS.md write numbers.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// settle waits (at most a minute) until pipa uses less than a tenth of a core over half a
// second, so that a case does not pay for the background work the last one left (request
// intake's ledger outbox, the sweep's deliveries).
func (b *bench) settle() {
	if b.o.pid == 0 {
		return
	}
	start := time.Now()
	for time.Since(start) < time.Minute {
		cpu0 := procCPU(b.o.pid)
		time.Sleep(500 * time.Millisecond)
		if procCPU(b.o.pid)-cpu0 < 50*time.Millisecond {
			break
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		fmt.Printf("  (pipa settled in %s)\n", d.Round(100*time.Millisecond))
	}
}

// benchRule is the retention rule every bench unit has: its file's records are destroyed by the
// recording system a day after collection, and pipa records each check.
const benchRule = "bench"

// setupRetention gives each unit a personal-information file in the registry (gRPC) and an
// automatic retention rule on it (REST, as a manager), unless they exist, 64 calls at a time.
func (b *bench) setupRetention(ctx context.Context, units []string) error {
	gctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+b.o.adminToken)
	var g errgroup.Group
	g.SetLimit(64)
	for _, unit := range units {
		g.Go(func() error {
			id := strings.ReplaceAll(strings.TrimPrefix(unit, "tenants/"), "/units/", "-")
			_, err := b.registry.CreateFile(gctx, &registryv1.CreateFileRequest{Parent: unit, FileId: "bench", RequestId: "bench-file-" + id,
				File: &registryv1.PersonalInformationFile{DisplayName: "부하시험 방문객 명부", Purpose: "방문객 출입 관리",
					Retention: "수집 후 1일", SubjectCount: 100}})
			if err != nil {
				return fmt.Errorf("file of %s: %w", unit, err)
			}
			rule, err := protojson.Marshal(&retentionv1.Rule{DisplayName: "부하시험 방문객 명부 보존", Target: retentionv1.RuleTarget_RULE_TARGET_FILE,
				Resource: unit + "/files/bench", PeriodDays: 1, ClockStart: retentionv1.ClockStart_CLOCK_START_COLLECTION,
				Action: retentionv1.Action_ACTION_AUTO_DELETE, AutoDeleteCycle: "매일 00시 보관기간 경과분 자동 삭제",
				Method: "영구삭제(덮어쓰기, 복구 불가)"})
			if err != nil {
				return err
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.o.url+"/v1/"+unit+"/rules?ruleId="+benchRule+"&requestId=bench-rule-"+id, bytes.NewReader(rule))
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+b.o.managerToken)
			if err := b.do(req); err != nil {
				return fmt.Errorf("rule of %s: %w", unit, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// createItems creates -sweep-items items under each unit's rule over REST (as a handler), each
// collected ten days ago and so already due, the i-th call to unit i mod the units; scale names
// them apart from a smaller scale's.
func (b *bench) createItems(ctx context.Context, name string, units []string, scale int) result {
	collected := time.Now().AddDate(0, 0, -10).UTC().Format(time.RFC3339)
	r := b.each(ctx, name, len(units)*b.o.sweepItems, b.o.clients, time.Time{}, func(ctx context.Context, i int) error {
		unit, k := units[i%len(units)], i/len(units)
		body := fmt.Sprintf(`{"rule":%q,"description":"부하시험 방문객 명부 %d-%d","recordCount":"100","clockStartTime":%q}`,
			unit+"/rules/"+benchRule, scale, k, collected)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.o.url+"/v1/"+unit+"/items?requestId=bench-item-"+strconv.Itoa(scale)+"-"+strconv.Itoa(i),
			strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+b.o.token)
		req.Header.Set("Content-Type", "application/json")
		return b.do(req)
	})
	r.note = fmt.Sprintf("%s items", thousands(r.ops))
	return r
}

// sweep sweeps every unit to completion, -sweep-clients at a time, with SweepUnit over REST (as a
// manager), and checks that each destroyed its -sweep-items due items.
func (b *bench) sweep(ctx context.Context, name string, units []string) result {
	var items atomic.Int64
	r := b.each(ctx, name, len(units), b.o.sweepClients, time.Time{}, func(ctx context.Context, i int) error {
		id := "bench-sweep-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(i)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.o.url+"/v1/"+units[i]+":sweep", strings.NewReader(`{"requestId":"`+id+`"}`))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+b.o.managerToken)
		req.Header.Set("Content-Type", "application/json")
		var res retentionv1.SweepResult
		if err := b.call(req, &res); err != nil {
			return err
		}
		items.Add(res.GetDestroyed())
		if res.GetDestroyed() != int64(b.o.sweepItems) {
			return fmt.Errorf("the sweep of %s destroyed %d items, not its %d due ones", units[i], res.GetDestroyed(), b.o.sweepItems)
		}
		return nil
	})
	n := items.Load()
	r.note = fmt.Sprintf("%s items destroyed, %s items/s", thousands(n), thousands(int64(float64(n)/r.elapsed.Seconds()+0.5)))
	if r.cpuPerOp > 0 && n > 0 {
		r.note += fmt.Sprintf(", %s CPU an item", micros(r.cpuPerOp*time.Duration(r.ops)/time.Duration(n)))
	}
	return r
}

// call sends req and reads its answer into out; with out nil, a 200's body is discarded unread.
func (b *bench) call(req *http.Request, out proto.Message) error {
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil && resp.StatusCode == http.StatusOK {
		_, err := io.Copy(io.Discard, resp.Body)
		return err
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(body))
	}
	return protojson.Unmarshal(body, out)
}
