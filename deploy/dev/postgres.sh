#!/usr/bin/env bash
# A private PostgreSQL for development and tests, kept under .data/pg of the repository, so that
# `make run` and `make test` need neither Docker nor a system database when DATABASE_URL is unset.
#
#   deploy/dev/postgres.sh start    init if needed, start if stopped, create database "pipa",
#                                   then print its DATABASE_URL (the only thing on stdout)
#   deploy/dev/postgres.sh stop
#   deploy/dev/postgres.sh url      print the DATABASE_URL
#   deploy/dev/postgres.sh status   exit 0 if running, 3 if not
#
# PIPA_PG_PORT picks the TCP port (default 55432); the server listens on 127.0.0.1 only and trusts
# every local connection: it is for development, never for real data.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
port="${PIPA_PG_PORT:-55432}"
database=pipa

say() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
	die "PIPA_PG_PORT=$port is not a TCP port"
fi

# mkdir_mode MODE DIR creates DIR (whose parent exists) with MODE, unless it exists already.
mkdir_mode() { [[ -d "$2" ]] || mkdir -m "$1" "$2" 2>/dev/null || [[ -d "$2" ]]; }

# PostgreSQL refuses to run as root, so root runs the server as the postgres system user.
as_pg() {
	if ((EUID == 0)); then
		(cd / && runuser -u postgres -- "$@") # cd: the postgres user may not be able to read our cwd
	else
		"$@"
	fi
}

# The primary data directory sits in the repository. If root finds that the postgres user cannot
# reach it (a parent directory it may not traverse), the cluster lives under /tmp instead, named
# for the repository so that each clone has its own.
primary="$root/.data/pg"
fallback="/tmp/pipa-pg-$(printf '%s' "$root" | sha256sum | cut -c1-12)"

# find_datadir prints the data directory of an existing cluster, or the primary one if none exists.
find_datadir() {
	if [[ ! -f "$primary/PG_VERSION" && -f "$fallback/PG_VERSION" ]]; then
		echo "$fallback"
	else
		echo "$primary"
	fi
}

# prepare_datadir creates the data directory, owned by the user that runs the server, and prints it.
prepare_datadir() {
	local dir
	dir="$(find_datadir)"
	if ((EUID != 0)); then
		mkdir -p "$(dirname "$dir")"
		mkdir_mode 0700 "$dir"
		echo "$dir"
		return
	fi
	if ! id -u postgres >/dev/null 2>&1; then
		say "creating the postgres system user"
		if getent group postgres >/dev/null; then
			useradd --system --gid postgres --home-dir /var/lib/postgresql --shell /bin/bash postgres
		else
			useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
		fi
	fi
	if [[ "$dir" == "$primary" ]]; then
		mkdir_mode 0755 "$root/.data"
		mkdir_mode 0700 "$dir"
		chown postgres: "$dir"
		if runuser -u postgres -- test -w "$dir" -a -x "$dir"; then
			echo "$dir"
			return
		fi
		say "the postgres user cannot reach $dir (a parent directory is not traversable);" \
			"using $fallback instead"
		rmdir "$dir" 2>/dev/null || true
		dir="$fallback"
	fi
	mkdir_mode 0700 "$dir"
	chown postgres: "$dir"
	echo "$dir"
}

# find_bindir prints the directory of the server binaries, preferring the major version an
# existing cluster was created with.
find_bindir() {
	local datadir="$1" dir version=""
	[[ -f "$datadir/PG_VERSION" ]] && version="$(cat "$datadir/PG_VERSION")"
	if [[ -n "$version" ]]; then
		dir="/usr/lib/postgresql/$version/bin"
		[[ -x "$dir/initdb" ]] && { echo "$dir"; return; }
	fi
	if command -v pg_config >/dev/null 2>&1; then
		dir="$(pg_config --bindir)"
		if [[ -x "$dir/initdb" ]] && [[ -z "$version" || "$("$dir/postgres" --version)" == *" $version."* ]]; then
			echo "$dir"
			return
		fi
	fi
	if [[ -z "$version" ]]; then
		dir="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n 1)"
		[[ -n "$dir" ]] && { dirname "$dir"; return; }
	fi
	return 1
}

bindir_or_install() {
	local datadir="$1" bindir
	if bindir="$(find_bindir "$datadir")"; then
		echo "$bindir"
		return
	fi
	if [[ -f "$datadir/PG_VERSION" ]]; then
		die "$datadir was created by PostgreSQL $(cat "$datadir/PG_VERSION"), whose server is not installed;" \
			"install postgresql-$(cat "$datadir/PG_VERSION"), or remove $datadir to start afresh"
	fi
	if ((EUID != 0)); then
		die "PostgreSQL's server is not installed; install it with: sudo apt-get install postgresql"
	fi
	say "installing PostgreSQL (apt-get install postgresql)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2
	apt-get install -y --no-install-recommends postgresql >&2
	find_bindir "$datadir" || die "apt-get installed postgresql, but no initdb was found under /usr/lib/postgresql"
}

url_for() { echo "postgres://postgres@127.0.0.1:$1/$database?sslmode=disable"; }

# running_port prints the port of this cluster's running server, or fails if it is not running.
running_port() {
	local datadir="$1" pid
	[[ -f "$datadir/postmaster.pid" ]] || return 1
	pid="$(sed -n 1p "$datadir/postmaster.pid")"
	[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
	sed -n 4p "$datadir/postmaster.pid"
}

wait_ready() {
	local bindir="$1" port="$2"
	for _ in $(seq 1 120); do
		"$bindir/pg_isready" -q -h 127.0.0.1 -U postgres -p "$port" -d postgres && return 0
		sleep 0.5
	done
	die "the server on port $port did not accept connections within 60s"
}

warn_port() {
	[[ -z "${PIPA_PG_PORT:-}" ]] || ((port == $1)) || say "running on port $1, not PIPA_PG_PORT=$port; stop it first to change ports"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# next_free_port sets port to the first free port after it (another clone's server, or something
# else, has it).
next_free_port() {
	local p
	for ((p = port + 1; p <= port + 100; p++)); do
		port_in_use "$p" || break
	done
	port_in_use "$p" && die "ports $port-$p are all in use; set PIPA_PG_PORT to a free port"
	say "port $port is in use; using $p"
	port=$p
}

init_cluster() {
	local bindir="$1" datadir="$2" locale=C socketdir
	if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
		locale=C.UTF-8
	fi
	say "initializing a cluster in $datadir (PostgreSQL $("$bindir/postgres" --version | awk '{print $3}'), locale $locale)"
	as_pg "$bindir/initdb" -D "$datadir" --auth=trust --username=postgres --encoding=UTF8 \
		--locale="$locale" >&2
	# A Unix socket path longer than 107 bytes cannot be bound; then the server is TCP-only, which
	# is all that pipa and this script use.
	socketdir="$datadir"
	((${#datadir} + 20 > 107)) && socketdir=""
	cat >>"$datadir/postgresql.conf" <<-EOF

		# pipa development settings (deploy/dev/postgres.sh); the port is given at start.
		listen_addresses = '127.0.0.1'
		unix_socket_directories = '$socketdir'
		max_connections = 200
		shared_buffers = 256MB
	EOF
}

start() {
	local datadir bindir lock running tries
	datadir="$(find_datadir)"
	# The fast path: already running and the database exists.
	if running="$(running_port "$datadir")" && bindir="$(find_bindir "$datadir")" &&
		"$bindir/pg_isready" -q -h 127.0.0.1 -U postgres -p "$running" -d postgres &&
		[[ "$("$bindir/psql" -h 127.0.0.1 -p "$running" -U postgres -d postgres -XAtqc \
			"SELECT 1 FROM pg_database WHERE datname = '$database'" 2>/dev/null)" == 1 ]]; then
		warn_port "$running"
		url_for "$running"
		return
	fi

	# Serialize the slow path: two make targets may call start at the same time.
	lock="$root/.data/pg.lock"
	mkdir_mode 0755 "$root/.data" || lock="$fallback.lock"
	exec 9>>"$lock"
	flock 9

	# Binaries first: installing Debian's package also creates the postgres user its own way.
	bindir="$(bindir_or_install "$(find_datadir)")"
	datadir="$(prepare_datadir)"
	[[ -f "$datadir/PG_VERSION" ]] || init_cluster "$bindir" "$datadir"

	if ! running="$(running_port "$datadir")"; then
		# A port free when probed can be taken before the server binds it (by another clone's server,
		# or as the local end of an outgoing connection: 55432 lies in Linux's ephemeral range), so
		# a failed bind moves on to the next free port, unless PIPA_PG_PORT chose this one.
		for ((tries = 0; ; tries++)); do
			if port_in_use "$port"; then
				[[ -n "${PIPA_PG_PORT:-}" ]] && die "port $port is in use by another program; set PIPA_PG_PORT to a free port"
				next_free_port
			fi
			say "starting PostgreSQL on 127.0.0.1:$port (log: $datadir/log)"
			# 9>&- keeps the lock from being inherited by the server, which would hold it forever.
			as_pg "$bindir/pg_ctl" -D "$datadir" -l "$datadir/log" -o "-p $port" -w -t 60 start >&2 9>&- && break
			if [[ -z "${PIPA_PG_PORT:-}" ]] && ((tries < 10)) && tail -n 5 "$datadir/log" | grep -q 'Address already in use'; then
				say "port $port was taken meanwhile"
				next_free_port
				continue
			fi
			die "PostgreSQL did not start; see $datadir/log"
		done
		running="$port"
	else
		warn_port "$running"
	fi
	wait_ready "$bindir" "$running"

	if [[ "$("$bindir/psql" -h 127.0.0.1 -p "$running" -U postgres -d postgres -XAtqc \
		"SELECT 1 FROM pg_database WHERE datname = '$database'")" != 1 ]]; then
		say "creating database $database"
		"$bindir/psql" -h 127.0.0.1 -p "$running" -U postgres -d postgres -Xqc "CREATE DATABASE $database" >&2
	fi
	url_for "$running"
}

stop() {
	local datadir bindir
	datadir="$(find_datadir)"
	if ! running_port "$datadir" >/dev/null; then
		say "not running"
		return
	fi
	bindir="$(find_bindir "$datadir")" || die "cannot find pg_ctl to stop the server in $datadir"
	as_pg "$bindir/pg_ctl" -D "$datadir" -m fast -w stop >&2
}

status() {
	local datadir running
	datadir="$(find_datadir)"
	if running="$(running_port "$datadir")"; then
		echo "running: $(url_for "$running") (data: $datadir)"
	elif [[ -f "$datadir/PG_VERSION" ]]; then
		echo "stopped (data: $datadir)"
		return 3
	else
		echo "not initialized (start creates $datadir)"
		return 3
	fi
}

url() {
	local running
	if running="$(running_port "$(find_datadir)")"; then
		url_for "$running"
	else
		url_for "$port"
	fi
}

case "${1:-}" in
start | stop | status | url) "$1" ;;
*)
	echo "usage: $0 start|stop|status|url" >&2
	exit 2
	;;
esac
