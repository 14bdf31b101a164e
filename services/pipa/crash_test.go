package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/auth"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/pkg/stacktest"
)

// childEnv makes the test binary run pipa's main instead of the tests: a test starts pipa as a
// real process that it can kill -9.
const childEnv = "PIPA_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// child is `pipa serve` running as its own process.
type child struct {
	cmd  *exec.Cmd
	done chan error
}

// startKillable prepares pipa as a child process on a database of its own (dev keys in a temporary
// directory, the access log on or off): the arguments to start it, and again after a kill, on the
// same database and addresses.
func startKillable(t *testing.T, accessLog bool) (pool *pgxpool.Pool, key ed25519.PrivateKey, grpcAddr string, args []string, d *deployment) {
	t.Helper()
	pool = pgtest.NewMulti(t, stacktest.Migrations(built))
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "dev-key.pem")
	key, err := auth.LoadOrCreateDevKey(keyPath)
	require.NoError(t, err)
	grpcAddr, httpAddr := freeAddr(t), freeAddr(t)
	args = []string{"-target=all", "-database-url=" + pool.Config().ConnString(), "-grpc-addr=" + grpcAddr,
		"-http-addr=" + httpAddr, "-metrics-addr=", "-dev-key=" + keyPath, "-dev-data-key=" + filepath.Join(dir, "data-key"),
		"-public-rate=0", fmt.Sprintf("-access-log=%t", accessLog)}
	d = &deployment{url: "http://" + httpAddr, key: key, registry: grpcAddr, http: &http.Client{Timeout: 20 * time.Second}}
	return pool, key, grpcAddr, args, d
}

// startChild runs `pipa serve args...` and waits until its gRPC health is SERVING.
func startChild(t *testing.T, grpcAddr string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	log, err := os.OpenFile(filepath.Join(t.TempDir(), "pipa.log"), os.O_CREATE|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	t.Cleanup(func() { log.Close() })
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(t, cmd.Start())
	c := &child{cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(c.kill)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, waitServing(ctx, grpcAddr, c.done), "pipa's log: %s", log.Name())
	return c
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Kill()
	<-c.done
	close(c.done)
	c.done = nil
}

// freeAddr is a loopback address nothing listens on, for a process to bind again after a restart.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// Done when of issue 12: pipa killed -9 while an approval's ledger append is in flight (the
// unit's log row held locked from here, so the append waits in PostgreSQL) delivers the entry
// within a minute of its restart (the ledger outbox's periodic drain, run when a leader starts,
// and River's rescue of jobs a dead worker held). STD-44-5: every decision is in the ledger.
func TestKilledDuringApprovalDeliversTheEntry(t *testing.T) {
	t.Parallel()
	pool, _, grpcAddr, args, d := startKillable(t, false)
	pipa := startChild(t, grpcAddr, args...)
	d.load(t, "jeongeup-library.yaml")

	recorded := time.Now().Add(-26 * time.Hour).Truncate(time.Hour)
	var receipt requestsv1.SubmitRequestResponse
	d.ok(t, http.MethodPost, "/v1/public/tenants/jeongeup/units/library/requests", "", obj{"requestId": "crash-1", "request": obj{
		"type":      "REQUEST_TYPE_CCTV_ACCESS",
		"requester": obj{"name": "김민원", "phone": "010-1234-5678", "birthDate": "1980-05-01"},
		"purpose":   "주차 차량 파손 경위 확인",
		"footage": obj{"site": libraryUnit + "/sites/central", "siteLocation": "도서관 주차장", "cameraLocation": "주차장 출입구",
			"startTime": rfc3339(recorded), "endTime": rfc3339(recorded.Add(time.Hour)), "requesterAppears": true}}}, &receipt)
	staff := d.token(t, auth.RoleHandler, libraryUnit)
	r := "/v1/" + libraryUnit + "/requests/" + receipt.GetReceiptNumber()
	var req requestsv1.Request
	d.ok(t, http.MethodPost, r+":verifyIdentity", staff, obj{"verification": obj{"method": "VERIFICATION_METHOD_RESIDENT_CARD"}}, &req)

	// Hold the unit's log row: the approval commits, and its append waits behind this lock.
	ctx := t.Context()
	holder, err := pgx.Connect(ctx, pool.Config().ConnString())
	require.NoError(t, err)
	defer holder.Close(context.Background())
	lock, err := holder.Begin(ctx)
	require.NoError(t, err)
	_, err = lock.Exec(ctx, `SELECT 1 FROM ledger.logs WHERE tenant_id = 'jeongeup' AND unit_id = 'library' FOR UPDATE`)
	require.NoError(t, err)
	approve := `{"grant":{"accessTime":"` + rfc3339(time.Now().Add(48*time.Hour).Truncate(time.Hour)) +
		`","accessPlace":"정읍시립도서관 2층 전산실","form":"ACCESS_FORM_VIEWING","method":"DELIVERY_METHOD_VISIT","masking":{"done":true}},"etag":"` +
		req.GetEtag() + `"}`
	hr, err := http.NewRequest(http.MethodPost, d.url+r+":approve", strings.NewReader(approve))
	require.NoError(t, err)
	hr.Header.Set("Authorization", "Bearer "+staff)
	go func() { // its answer never comes: the process is killed under it
		if resp, err := d.http.Do(hr); err == nil {
			resp.Body.Close()
		}
	}()
	var entry int64
	require.Eventually(t, func() bool {
		var waiting bool
		err := pool.QueryRow(ctx, `SELECT o.id, EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
				AND wait_event_type = 'Lock' AND query LIKE '%ledger.logs%')
			FROM requests.ledger_outbox o WHERE o.subject = $1 AND o.label = 'approve' AND o.ledger_index IS NULL`,
			receipt.GetReceiptNumber()).Scan(&entry, &waiting)
		return err == nil && waiting
	}, 20*time.Second, 10*time.Millisecond, "the approval committed and its append waits for the log")

	pipa.kill()
	pipa = startChild(t, grpcAddr, args...)

	// Again with the drain's append in flight: River rescues the job the dead process held.
	require.Eventually(t, func() bool {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM requests.river_job WHERE kind = 'ledgerout.drain' AND state = 'running'
			AND EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
				AND query LIKE '%ledger.logs%')`).Scan(&n)
		return err == nil && n > 0
	}, 45*time.Second, 20*time.Millisecond, "the drain's append waits for the log")
	pipa.kill()
	restarted := time.Now()
	startChild(t, grpcAddr, args...)
	require.NoError(t, lock.Rollback(ctx))
	var index *int64
	require.Eventually(t, func() bool {
		return pool.QueryRow(ctx, `SELECT ledger_index FROM requests.ledger_outbox WHERE tenant_id = 'jeongeup' AND id = $1`,
			entry).Scan(&index) == nil && index != nil
	}, time.Minute-time.Since(restarted), 250*time.Millisecond, "the entry is in the ledger within a minute of the restart")
	t.Logf("delivered %s after the restart", time.Since(restarted).Round(time.Millisecond))
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM ledger.entries WHERE tenant_id = 'jeongeup' AND unit_id = 'library'
		AND request_id = 'requests/entries/' || $1::bigint`, entry).Scan(&n))
	require.Equal(t, 1, n, "appended once")
	d.ok(t, http.MethodGet, r, staff, nil, &req)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_APPROVED, req.GetState())
	for _, l := range req.GetLedger() {
		require.False(t, l.GetPending(), "every step of the request is in the ledger: %v", l)
	}
}
