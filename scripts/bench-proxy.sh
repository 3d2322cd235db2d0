#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# bench-proxy.sh: host-proxy side by side with nginx (stream module), HAProxy
# (tcp mode) and socat, each a separate process on loopback, at defaults and
# tuned, rounds interleaved (host/proxy TestCompareProxies). Installs the
# three proxies from Debian when missing. Not part of `make test` or CI.
#
# ROUNDS (default 2) and SECONDS_PER (seconds per measurement, default 1)
# bound the run: about 11 proxies x 11 measurements x ROUNDS x SECONDS_PER,
# plus start-up, i.e. 4-5 minutes at the defaults. (Three of the rows pair
# thread counts: host-proxy with two workers, tuned nginx and HAProxy with one.)
set -eu
GO=${GO:-go}
ROUNDS=${ROUNDS:-2}
SECONDS_PER=${SECONDS_PER:-1}

missing=""
command -v nginx >/dev/null 2>&1 || missing="$missing nginx-light"
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || missing="$missing libnginx-mod-stream"
command -v haproxy >/dev/null 2>&1 || missing="$missing haproxy"
command -v socat >/dev/null 2>&1 || missing="$missing socat"
if [ -n "$missing" ]; then
	echo "bench-proxy: installing$missing" >&2
	sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
fi

# Enough descriptors for 1,000 connections through each proxy (4 per connection).
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$GO build -o "$tmp/host-proxy" ./cmd/host-proxy
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; $(nginx -v 2>&1); $(haproxy -v | head -1); $(socat -V | grep 'socat version')"
ENCLAVEKIT_BENCH_PROXY="$tmp/host-proxy" ENCLAVEKIT_BENCH_ROUNDS=$ROUNDS ENCLAVEKIT_BENCH_SECONDS=$SECONDS_PER \
	$GO test -v -count=1 -timeout 30m -run '^TestCompareProxies$' ./host/proxy
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
