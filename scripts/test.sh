#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The body of `make test`: every test with the race detector, ending with a
# summary (internal/testsummary): the ok/FAIL line of each package, the
# output of each failing test, the skipped tests by reason, and last
#
#   N passed, N failed, N skipped
#
# When ENCLAVEKIT_TEST_POSTGRES_URL is not set and PostgreSQL's server
# binaries are installed, a throw-away server is started on loopback for the
# PostgreSQL tests (scripts/pg-test-env.sh, on a free port with its data in a
# fresh directory) and removed afterwards. Without the binaries those tests
# skip and the summary says how to install them.
#
#   GO=go PKGS=./... TESTFLAGS='-race -count=1 -timeout 20m' scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

GO="${GO:-go}"
PKGS="${PKGS:-./...}"
TESTFLAGS="${TESTFLAGS:--race -count=1 -timeout 20m}"
notes=()

pg_dir=""
cleanup() {
  if [ -n "$pg_dir" ]; then
    ENCLAVEKIT_PG_DIR="$pg_dir" ENCLAVEKIT_PG_PORT="$pg_port" scripts/pg-test-env.sh stop || true
    rm -rf "$pg_dir"
  fi
}
trap cleanup EXIT

# free_port prints a loopback TCP port nothing listens on now, below the
# kernel's ephemeral range (so no outgoing connection of a test takes it
# between this check and the server's bind); another program may still
# bind it first, and the start below then tries another.
free_port() {
  local lo=32768 hi p
  if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
  fi
  if [ "$lo" -le 11024 ]; then lo=61024; fi # no room below: fall back to the top (rare)
  for _ in $(seq 1 50); do
    p=$((lo - 10000 + RANDOM % 10000))
    if [ "$p" -ge 65536 ]; then continue; fi
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# start_pg starts the throw-away server on a free port with a fresh data
# directory, up to 3 times (a port taken between the check and the bind);
# it sets pg_port, pg_dir and env_line.
start_pg() {
  local try
  for try in 1 2 3; do
    pg_port="$(free_port)" || return 1
    pg_dir="$(mktemp -d /var/tmp/enclavekit-pg-test.XXXXXX)"
    if env_line="$(ENCLAVEKIT_PG_DIR="$pg_dir" ENCLAVEKIT_PG_PORT="$pg_port" scripts/pg-test-env.sh start)"; then
      return 0
    fi
    echo "test.sh: the throw-away PostgreSQL server did not start on 127.0.0.1:$pg_port (try $try of 3):" >&2
    tail -n 5 "$pg_dir/server.log" >&2 2>/dev/null || true
    cleanup
    pg_dir=""
  done
  return 1
}

if [ -n "${ENCLAVEKIT_TEST_POSTGRES_URL:-}" ]; then
  notes+=("PostgreSQL tests use ENCLAVEKIT_TEST_POSTGRES_URL from the environment")
elif scripts/pg-test-env.sh check 2>/dev/null; then
  if start_pg; then
    eval "$env_line"
    export ENCLAVEKIT_TEST_POSTGRES_URL
    notes+=("PostgreSQL tests ran against a throw-away server on 127.0.0.1:$pg_port (removed at exit)")
  else
    notes+=("PostgreSQL is installed but the throw-away server did not start (see scripts/pg-test-env.sh); the PostgreSQL tests were skipped")
  fi
else
  notes+=("PostgreSQL's server binaries are not installed, so the PostgreSQL tests were skipped; install them with: apt-get install postgresql")
fi

note_args=()
for n in "${notes[@]}"; do note_args+=(-note "$n"); done
# shellcheck disable=SC2086 # TESTFLAGS and PKGS are word lists
"$GO" run ./internal/testsummary "${note_args[@]}" -- $TESTFLAGS $PKGS
