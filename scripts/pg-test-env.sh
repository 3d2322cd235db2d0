#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A throw-away PostgreSQL server on loopback for the tests of the PostgreSQL
# key store (host/kmsserver/keystore/postgres) and the multi-replica kms-server test.
#
#   scripts/pg-test-env.sh start   start (creating when missing) and print
#                                  export ENCLAVEKIT_TEST_POSTGRES_URL=...
#   scripts/pg-test-env.sh stop    stop it (the data directory stays)
#   scripts/pg-test-env.sh url     print the URL only
#   scripts/pg-test-env.sh status  exit 0 when it is running
#   scripts/pg-test-env.sh check   exit 0 when the server binaries are
#                                  installed (exit 2 and say how otherwise)
#
# Idempotent: "start" on a running server only prints the URL; a data
# directory left from an earlier run is reused. The server listens on
# 127.0.0.1 only, on ENCLAVEKIT_PG_PORT (default 55432), with its data in
# ENCLAVEKIT_PG_DIR (default /var/tmp/enclavekit-pg-$PORT). The role
# "enclavekit" (password "enclavekit", SCRAM) owns the database "enclavekit"
# and is a superuser, so tests can create schemas and cut connections
# (pg_terminate_backend). Never point this at a server that matters.
#
# PostgreSQL refuses to run as root: as root the server runs as the
# "postgres" user (Debian's package creates it) through runuser.
set -euo pipefail

PORT="${ENCLAVEKIT_PG_PORT:-55432}"
DATA="${ENCLAVEKIT_PG_DIR:-/var/tmp/enclavekit-pg-$PORT}"
USER_NAME=enclavekit
PASSWORD=enclavekit
URL="postgres://$USER_NAME:$PASSWORD@127.0.0.1:$PORT/enclavekit?sslmode=disable"

bindir() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
    return
  fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
    echo "pg-test-env: no PostgreSQL server binaries (apt-get install postgresql)" >&2
    exit 2
  fi
  echo "$d"
}

BIN="$(bindir)"

# as_pg runs a command as the user that owns the cluster.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() {
  [ -f "$DATA/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

start() {
  if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$DATA"; fi
    chmod 700 "$DATA"
    pw="$(mktemp)"
    echo "$PASSWORD" >"$pw"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$pw"; fi
    as_pg "$BIN/initdb" -D "$DATA" -U "$USER_NAME" --pwfile="$pw" \
      --auth-host=scram-sha-256 --auth-local=scram-sha-256 -E UTF8 --locale=C >/dev/null
    rm -f "$pw"
    # Loopback only; durability settings stay at their defaults
    # (fsync on, synchronous_commit on).
    cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DATA'
max_connections = 300
log_min_messages = warning
EOF
  fi
  if ! running; then
    as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 180 start >/dev/null
  fi
  # Create the database once (the role is the initdb superuser).
  if ! PGPASSWORD="$PASSWORD" "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d enclavekit -Atqc 'select 1' >/dev/null 2>&1; then
    PGPASSWORD="$PASSWORD" "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d postgres -qc 'CREATE DATABASE enclavekit' >/dev/null
  fi
  echo "export ENCLAVEKIT_TEST_POSTGRES_URL='$URL'"
}

stop() {
  if running; then
    as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  status) running ;;
  check) : ;;
  *) echo "usage: $0 start|stop|url|status|check" >&2; exit 2 ;;
esac
