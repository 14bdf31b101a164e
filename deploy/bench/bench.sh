#!/usr/bin/env bash
# make bench: the whole comparison of issue 18 in one command. It starts the private PostgreSQL
# (deploy/dev/postgres.sh), makes a fresh database pipa_bench on it, starts pipa (`pipa dev`:
# migrations, the demo tenants, monolithic mode, public rate limits off) as a process of its own,
# and runs services/pipa/cmd/loadbench against it: pgbench's bare INSERT on the same cluster,
# appends over REST and gRPC to 1, 16 and BENCH_TENANTS × BENCH_UNITS logs, the public page
# against a static file server. Then it stops pipa and starts it again on the database that now
# holds those logs, and reports the time to ready (/healthz answering 200).
#
# BENCH_GROWTH=100,1000,10000 (make bench-growth) measures instead how cost grows with the number
# of units: at each scale appends, request intake, the retention sweep and the public page, printed
# as a markdown table (loadbench's -growth; BENCH_SWEEP_ITEMS items a unit, 5 by default).
#
# Settings: BENCH_DURATION (8s a case), BENCH_CLIENTS (64), BENCH_TENANTS (250), BENCH_UNITS (40),
# BENCH_OPEN_FOR (90s: at most this long for the first appends to the many logs),
# GOGC / GOMEMLIMIT for pipa (left to pipa's own defaults when unset); BENCH_PROFILE=text profiles
# pipa (CPU and allocations, into BENCH_PROFILE_DIR) during the cases whose name contains text;
# BENCH_CASES=regexp runs only the cases whose name matches (the bare INSERT always runs);
# BENCH_PIPA_LOG=file keeps pipa's output there; BENCH_PIPA=binary runs that pipa instead of
# building this checkout's (an A/B of two builds on the same database and load); BENCH_HTTP_ADDR,
# BENCH_GRPC_ADDR, BENCH_METRICS_ADDR and BENCH_STATIC_ADDR move pipa's and the static file
# server's listeners (two benches on one machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
bin=$root/.bin
mkdir -p "$bin"
base=$(deploy/dev/postgres.sh start)
pgbin=/usr/lib/postgresql/15/bin
db=${base%%\?*}
db=${db%/*}/pipa_bench?sslmode=disable
"$pgbin/psql" -q "$base" -c 'DROP DATABASE IF EXISTS pipa_bench' -c 'CREATE DATABASE pipa_bench' >/dev/null

if [ -n "${BENCH_PIPA:-}" ]; then cp "$BENCH_PIPA" "$bin/pipa"; else go build -o "$bin/pipa" ./services/pipa; fi
(cd services/pipa && go build -o "$bin/loadbench" ./cmd/loadbench)

export PIPA_HTTP_ADDR=${BENCH_HTTP_ADDR:-127.0.0.1:18080} PIPA_GRPC_ADDR=${BENCH_GRPC_ADDR:-127.0.0.1:19090} \
  PIPA_METRICS_ADDR=${BENCH_METRICS_ADDR:-127.0.0.1:19464}
export PIPA_PUBLIC_RATE=0 PIPA_PPROF=${BENCH_PROFILE:+true}
log=${BENCH_PIPA_LOG:-$(mktemp)}
: >"$log"
pid=
stop() { [ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; pid=; }; }
trap 'stop; [ -n "${BENCH_PIPA_LOG:-}" ] || rm -f "$log"' EXIT
start() {
  local t0=$EPOCHREALTIME
  DATABASE_URL=$db "$bin/pipa" "$@" >>"$log" 2>&1 &
  pid=$!
  until curl -sf -o /dev/null http://$PIPA_HTTP_ADDR/healthz; do
    kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "pipa stopped"; exit 1; }
    sleep 0.05
  done
  ready=$(echo "$EPOCHREALTIME - $t0" | bc)
}
start dev
# pipa dev prints its URLs once the demo tenants are loaded.
until grep -q PIPA_TOKEN "$log"; do kill -0 "$pid" || { cat "$log"; exit 1; }; sleep 0.1; done
export BENCH_TOKEN=$("$bin/pipa" token -role handler -scope '*' -sub bench-handler)
export BENCH_ADMIN_TOKEN=$("$bin/pipa" token -role tenant_admin -scope '*' -sub bench-admin)
export BENCH_MANAGER_TOKEN=$("$bin/pipa" token -role manager -scope '*' -sub bench-manager)
"$bin/loadbench" -db "$db" -pid "$pid" -duration "${BENCH_DURATION:-8s}" -clients "${BENCH_CLIENTS:-64}" \
  -tenants "${BENCH_TENANTS:-250}" -units "${BENCH_UNITS:-40}" -open-for "${BENCH_OPEN_FOR:-90s}" ${BENCH_CASES:+-cases "$BENCH_CASES"} \
  -url "http://$PIPA_HTTP_ADDR" -grpc "$PIPA_GRPC_ADDR" -listen "${BENCH_STATIC_ADDR:-127.0.0.1:18099}" -metrics "http://$PIPA_METRICS_ADDR" \
  ${BENCH_GROWTH:+-growth "$BENCH_GROWTH" -sweep-items "${BENCH_SWEEP_ITEMS:-5}"} \
  ${BENCH_PROFILE:+-pprof http://$PIPA_METRICS_ADDR -profile-case "$BENCH_PROFILE" -profile-dir "${BENCH_PROFILE_DIR:-.}"}
stop
logs=$("$pgbin/psql" -tA "$db" -c 'SELECT count(*) FROM ledger.logs')
PIPA_DEV_KEY=$root/.data/dev-key.pem PIPA_DEV_DATA_KEY=$root/.data/data-key start serve -target=all -migrate=false
printf '\nstart-up to ready (pipa serve, %s logs in the database): %.2f s; RSS when ready: %d MiB\n' \
  "$logs" "$ready" $(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 ))
