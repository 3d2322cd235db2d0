// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/internal/proccpu"
)

// TestSummarizeLatency checks the harness's latency summary on connections
// served unevenly: the pooled p50 follows the connection served most, the
// connection-weighted one does not.
func TestSummarizeLatency(t *testing.T) {
	us := time.Microsecond
	rep := func(n int, d time.Duration) []time.Duration { return slices.Repeat([]time.Duration{d}, n) }
	l, ok := summarizeLatency([][]time.Duration{rep(8, 100*us), rep(2, 500*us), rep(1, 1000*us), nil})
	if !ok {
		t.Fatal("no summary")
	}
	want := latency{p50: 100, p99: 1000, mean: 2800.0 / 11, connP50: 500, connP99: 1000, slowestP50: 1000, spread: 0, exchanges: 11}
	if l != want {
		t.Errorf("got %+v, want %+v", l, want)
	}
	l, _ = summarizeLatency([][]time.Duration{rep(8, 100*us), rep(2, 500*us)})
	if l.spread != 4 || l.connP50 != 100 {
		t.Errorf("two connections: spread %v, conn p50 %v; want 4, 100", l.spread, l.connP50)
	}
	if _, ok := summarizeLatency([][]time.Duration{nil, nil}); ok {
		t.Error("no exchanges: summarized")
	}
}

// TestCompareProxies is the side-by-side comparison behind `make
// bench-proxy` (scripts/bench-proxy.sh): host-proxy, nginx (stream
// module), HAProxy (tcp mode) and socat, each a separate process on
// loopback in front of the same in-process upstreams, at their defaults
// and tuned (splice where the proxy has it, 256 KiB buffers), with the
// rounds interleaved. It runs only when ENCLAVEKIT_BENCH_PROXY names the
// host-proxy binary; every measurement is bounded in time and count.
//
// Environment: ENCLAVEKIT_BENCH_PROXY (host-proxy binary, required),
// ENCLAVEKIT_BENCH_ROUNDS (default 2), ENCLAVEKIT_BENCH_SECONDS (seconds
// per measurement, default 1), ENCLAVEKIT_BENCH_ONLY (a comma-separated
// list of the proxies to run; default all), ENCLAVEKIT_BENCH_VARIANTS
// (more host-proxy binaries, name=path,...; ENCLAVEKIT_BENCH_ONLY must
// name them when it is set), ENCLAVEKIT_BENCH_SPREAD (non-empty: each
// cell also shows the lowest and highest round), ENCLAVEKIT_BENCH_PARTS (a
// comma-separated list of idle, throughput, connect and latency; default
// all), ENCLAVEKIT_BENCH_CONC (a comma-separated list of the concurrencies
// 1, 64 and 1000 to measure; default all).
func TestCompareProxies(t *testing.T) {
	bin := os.Getenv("ENCLAVEKIT_BENCH_PROXY")
	if bin == "" {
		t.Skip("a benchmark run: set ENCLAVEKIT_BENCH_PROXY to a host-proxy binary (make bench-proxy does)")
	}
	rounds := envInt("ENCLAVEKIT_BENCH_ROUNDS", 2)
	part := func(name string) bool {
		parts := os.Getenv("ENCLAVEKIT_BENCH_PARTS")
		return parts == "" || slices.Contains(strings.Split(parts, ","), name)
	}
	conc := func(n int) bool {
		c := os.Getenv("ENCLAVEKIT_BENCH_CONC")
		return c == "" || slices.Contains(strings.Split(c, ","), strconv.Itoa(n))
	}
	per := time.Duration(envInt("ENCLAVEKIT_BENCH_SECONDS", 1)) * time.Second
	dir := t.TempDir()

	type result struct{ vals map[string][]float64 }
	var names []string
	results := map[string]*result{}
	// A failed measurement (e.g. a proxy resetting a connection) is logged
	// and left out of the medians; a cell with no value shows "–".
	record := func(proxy, metric string, v float64, err error) {
		if err != nil {
			t.Logf("%s %s: %v", proxy, metric, err)
		}
		r := results[proxy]
		if r == nil {
			r = &result{vals: map[string][]float64{}}
			results[proxy] = r
			names = append(names, proxy)
		}
		if err == nil {
			r.vals[metric] = append(r.vals[metric], v)
		}
	}
	kinds := []proxyKind{
		{name: "direct"},
		{name: "host-proxy", start: startHostProxy(bin)},
		{name: "nginx", start: startNginx(false, 0)},
		{name: "nginx-tuned", start: startNginx(true, 0)},
		{name: "haproxy", start: startHAProxy(false, 0)},
		{name: "haproxy-tuned", start: startHAProxy(true, 0)},
		// The same thread counts on both sides: host-proxy runs
		// GOMAXPROCS-1 event workers (one on two cores), nginx-tuned
		// one worker process per core (worker_processes auto), HAProxy
		// one thread per core (its default nbthread). These rows pair
		// them: host-proxy with two workers (GOMAXPROCS=3), the tuned
		// nginx and HAProxy with one.
		{name: "host-proxy-2w", start: startHostProxy(bin, "GOMAXPROCS=3")},
		{name: "nginx-tuned-1w", start: startNginx(true, 1)},
		{name: "haproxy-tuned-1t", start: startHAProxy(true, 1)},
		{name: "socat", start: startSocat(false), maxConc: 64},
		{name: "socat-tuned", start: startSocat(true), maxConc: 64},
	}
	// ENCLAVEKIT_BENCH_VARIANTS adds host-proxy binaries (or wrapper
	// scripts) run as proxies of their own, e.g. "hp-b=/tmp/b.sh": an A/B
	// comparison in the same interleaved rounds.
	for _, v := range strings.Split(os.Getenv("ENCLAVEKIT_BENCH_VARIANTS"), ",") {
		if name, path, ok := strings.Cut(v, "="); ok && name != "" && path != "" {
			kinds = append(kinds, proxyKind{name: name, start: startHostProxy(path)})
		}
	}
	if only := os.Getenv("ENCLAVEKIT_BENCH_ONLY"); only != "" { // e.g. "host-proxy,nginx"
		var keep []proxyKind
		for _, k := range kinds {
			if slices.Contains(strings.Split(only, ","), k.name) {
				keep = append(keep, k)
			}
		}
		kinds = keep
	}
	for round := range rounds {
		for _, k := range kinds {
			up := newCompareUpstreams(t)
			sink, echoAddr := up.sink, up.echo
			var procs []*exec.Cmd
			if k.start != nil {
				ports := freePorts(t, 2)
				var err error
				procs, err = k.start(filepath.Join(dir, fmt.Sprintf("%s-%d", k.name, round)), ports, []string{up.sink, up.echo})
				if err != nil {
					t.Errorf("%s: %v", k.name, err)
					up.close()
					continue
				}
				sink, echoAddr = fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
				if err := waitListening(sink, echoAddr); err != nil {
					stopProcs(procs)
					up.close()
					t.Errorf("%s: %v", k.name, err)
					continue
				}
			}
			if procs != nil && part("idle") {
				// First, on the fresh process: memory freed by earlier
				// measurements would otherwise be reused and hide the cost.
				idle := 1000
				if k.maxConc > 0 {
					idle = 100
				}
				b, err := measureIdle(procs, echoAddr, idle)
				record(k.name, "idle-kB/conn", b/1e3, err)
			}
			// CPU per operation of the proxy's processes (user + system
			// time from /proc): steadier than wall-clock rates when other
			// processes share the cores.
			cpu := func(metric string, before time.Duration, ops float64, err error) {
				if procs != nil && err == nil && ops > 0 {
					record(k.name, metric, float64((cpuOf(procs)-before).Microseconds())/ops, nil)
				}
			}
			for _, n := range []int{1, 64, 1000} {
				if k.maxConc > 0 && n > k.maxConc || !conc(n) {
					continue
				}
				if !part("throughput") {
					break
				}
				c0, self0, reads0 := cpuOf(procs), proccpu.Self(), up.sinkReads.Load()
				mbs, mb, err := measureThroughput(sink, n, per)
				record(k.name, fmt.Sprintf("MB/s@%d", n), mbs, err)
				cpu(fmt.Sprintf("µs/MB@%d", n), c0, mb, err)
				if err == nil && mb > 0 {
					record(k.name, fmt.Sprintf("client µs/MB@%d", n), float64((proccpu.Self()-self0).Microseconds())/mb, nil)
					if r := up.sinkReads.Load() - reads0; r > 0 {
						record(k.name, fmt.Sprintf("KiB/sink read@%d", n), mb*1e6/1024/float64(r), nil)
					}
				}
			}
			for _, n := range []int{1, 64, 1000} {
				if k.maxConc > 0 && n > k.maxConc || !conc(n) {
					continue
				}
				if !part("connect") {
					break
				}
				c0 := cpuOf(procs)
				cps, conns, err := measureConnect(echoAddr, n, per)
				record(k.name, fmt.Sprintf("conns/s@%d", n), cps, err)
				cpu(fmt.Sprintf("µs/conn@%d", n), c0, conns, err)
			}
			for _, n := range []int{1, 64} {
				if !conc(n) {
					continue
				}
				if !part("latency") {
					break
				}
				c0 := cpuOf(procs)
				l, err := measureLatency(echoAddr, n, per)
				record(k.name, fmt.Sprintf("p50µs@%d", n), l.p50, err)
				record(k.name, fmt.Sprintf("p99µs@%d", n), l.p99, err)
				record(k.name, fmt.Sprintf("exchanges/s@%d", n), l.exchanges/per.Seconds(), err)
				if n > 1 {
					record(k.name, fmt.Sprintf("mean µs@%d", n), l.mean, err)
					record(k.name, fmt.Sprintf("conn-p50µs@%d", n), l.connP50, err)
					record(k.name, fmt.Sprintf("conn-p99µs@%d", n), l.connP99, err)
					record(k.name, fmt.Sprintf("slowest-conn-p50µs@%d", n), l.slowestP50, err)
					record(k.name, fmt.Sprintf("max/min exchanges@%d", n), l.spread, err)
				}
				cpu(fmt.Sprintf("µs/exchange@%d", n), c0, l.exchanges, err)
			}
			stopProcs(procs)
			up.close()
		}
	}
	spread := os.Getenv("ENCLAVEKIT_BENCH_SPREAD") != ""
	var sb strings.Builder
	table := func(title string, metrics []string) {
		fmt.Fprintf(&sb, "\n%s\n\n| proxy | %s |\n|---|%s\n", title, strings.Join(metrics, " | "), strings.Repeat("---:|", len(metrics)))
		for _, name := range names {
			fmt.Fprintf(&sb, "| %s |", name)
			for _, m := range metrics {
				v := results[name].vals[m]
				if len(v) == 0 {
					sb.WriteString(" – |")
					continue
				}
				if spread && len(v) > 1 {
					lo, hi := slices.Min(v), slices.Max(v)
					fmt.Fprintf(&sb, " %s (%s–%s) |", fmtMedian(v), fmtMedian([]float64{lo}), fmtMedian([]float64{hi}))
					continue
				}
				fmt.Fprintf(&sb, " %s |", fmtMedian(v))
			}
			sb.WriteString("\n")
		}
	}
	table("Rates, latency and idle memory", []string{"MB/s@1", "MB/s@64", "MB/s@1000", "conns/s@1", "conns/s@64", "conns/s@1000",
		"p50µs@1", "p99µs@1", "p50µs@64", "p99µs@64", "idle-kB/conn"})
	table("CPU of the proxy's processes per MB, connection and exchange (µs, user + system from /proc)",
		[]string{"µs/MB@1", "µs/MB@64", "µs/MB@1000", "µs/conn@1", "µs/conn@64", "µs/conn@1000", "µs/exchange@1", "µs/exchange@64"})
	table("CPU of the test process (clients, sink and echo upstreams, and the kernel's work it is charged) per MB through each proxy (µs)",
		[]string{"client µs/MB@1", "client µs/MB@64", "client µs/MB@1000", "KiB/sink read@1", "KiB/sink read@64", "KiB/sink read@1000"})
	table("Exchange rate behind the latency columns (1 KiB request/response; at 64 connections the mean latency is 64 / rate)",
		[]string{"exchanges/s@1", "exchanges/s@64"})
	table("Latency at 64 connections, each connection weighted alike (µs; the p50 and p99 above pool every exchange, so a connection served more often counts more)",
		[]string{"p50µs@64", "mean µs@64", "conn-p50µs@64", "conn-p99µs@64", "slowest-conn-p50µs@64", "max/min exchanges@64"})
	fmt.Fprintf(&sb, "\nmedian of %d interleaved rounds, %v per measurement; load average before/after: see the script's output\n", rounds, per)
	fmt.Print(sb.String())
}

type proxyKind struct {
	name    string
	start   func(dir string, listen []int, upstream []string) ([]*exec.Cmd, error)
	maxConc int // socat forks a process per connection: bounded
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func fmtMedian(v []float64) string {
	s := slices.Clone(v)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	switch {
	case m >= 100:
		return strconv.FormatFloat(m, 'f', 0, 64)
	default:
		return strconv.FormatFloat(m, 'f', 1, 64)
	}
}

// compareUpstreams are a sink (reads with 256 KiB reads, then acknowledges
// the byte count) and a 1 KiB echo, fresh for each proxy so that
// connections in TIME_WAIT from one do not exhaust ports for the next.
type compareUpstreams struct {
	ls         []net.Listener
	sink, echo string
	wg         sync.WaitGroup
	// sinkReads counts the sink's reads: how many bytes a proxy hands on
	// at a time, and so how often it wakes the destination.
	sinkReads atomic.Int64
}

func newCompareUpstreams(t *testing.T) *compareUpstreams {
	u := &compareUpstreams{}
	serve := func(h func(net.Conn)) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		u.ls = append(u.ls, l)
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() { defer c.Close(); h(c) }()
			}
		}()
		return l.Addr().String()
	}
	u.sink = serve(func(c net.Conn) { sinkAndAckCounting(c, &u.sinkReads) })
	u.echo = serve(echoKiB)
	return u
}

func (u *compareUpstreams) close() {
	for _, l := range u.ls {
		l.Close()
	}
	u.wg.Wait()
}

func freePorts(t *testing.T, n int) []int {
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func waitListening(addrs ...string) error {
	for _, a := range addrs {
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not listening: %w", a, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

func startProcs(cmds ...*exec.Cmd) ([]*exec.Cmd, error) {
	for i, c := range cmds {
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if c.Stderr == nil {
			c.Stderr = os.Stderr
		}
		if err := c.Start(); err != nil {
			stopProcs(cmds[:i])
			return nil, err
		}
	}
	return cmds, nil
}

func stopProcs(cmds []*exec.Cmd) {
	for _, c := range cmds {
		if c.Process != nil {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL) // the process group: nginx workers, socat children
			_ = c.Wait()
		}
	}
}

// startHostProxy starts bin with env added to the test's environment.
func startHostProxy(bin string, env ...string) func(string, []int, []string) ([]*exec.Cmd, error) {
	return func(dir string, listen []int, up []string) ([]*exec.Cmd, error) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		var cfg strings.Builder
		cfg.WriteString("allowlist:\n")
		for _, u := range up {
			h, p, _ := net.SplitHostPort(u)
			fmt.Fprintf(&cfg, "  - {address: %s, port: %s}\n", h, p)
		}
		cfg.WriteString("max_connections: 8192\nroutes:\n")
		for i, u := range up {
			fmt.Fprintf(&cfg, "  - {name: r%d, direction: egress, listen: \"tcp://127.0.0.1:%d\", destination: \"tcp://%s\"}\n", i, listen[i], u)
		}
		path := filepath.Join(dir, "host-proxy.yaml")
		if err := os.WriteFile(path, []byte(cfg.String()), 0o644); err != nil {
			return nil, err
		}
		c := exec.Command(bin, "--config", path)
		c.Stderr = io.Discard
		if len(env) > 0 {
			c.Env = append(os.Environ(), env...)
		}
		return startProcs(c)
	}
}

// startNginx starts nginx's stream module, at its defaults or tuned (256
// KiB buffers, a worker per core); workers > 0 sets the worker processes.
func startNginx(tuned bool, workers int) func(string, []int, []string) ([]*exec.Cmd, error) {
	return func(dir string, listen []int, up []string) ([]*exec.Cmd, error) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		procs, extra := "1", "    proxy_half_close on;\n"
		if tuned {
			procs, extra = "auto", "    proxy_half_close on;\n    proxy_buffer_size 256k;\n"
		}
		if workers > 0 {
			procs = strconv.Itoa(workers)
		}
		var cfg strings.Builder
		fmt.Fprintf(&cfg, "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\ndaemon off;\nworker_processes %s;\n"+
			"worker_rlimit_nofile 20000;\npid %s/nginx.pid;\nerror_log %s/error.log;\nevents { worker_connections 8192; }\nstream {\n",
			procs, dir, dir)
		for i, u := range up {
			fmt.Fprintf(&cfg, "  server {\n    listen 127.0.0.1:%d;\n    proxy_pass %s;\n%s  }\n", listen[i], u, extra)
		}
		cfg.WriteString("}\n")
		path := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(path, []byte(cfg.String()), 0o644); err != nil {
			return nil, err
		}
		return startProcs(exec.Command("nginx", "-e", dir+"/error.log", "-p", dir, "-c", path))
	}
}

// startHAProxy starts HAProxy in TCP mode, at its defaults or tuned (256
// KiB buffers, splice); threads > 0 sets nbthread (its default here is one
// per core).
func startHAProxy(tuned bool, threads int) func(string, []int, []string) ([]*exec.Cmd, error) {
	return func(dir string, listen []int, up []string) ([]*exec.Cmd, error) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		global, defaults := "", ""
		if tuned {
			global, defaults = "  tune.bufsize 262144\n", "  option splice-auto\n"
		}
		if threads > 0 {
			global += fmt.Sprintf("  nbthread %d\n", threads)
		}
		var cfg strings.Builder
		fmt.Fprintf(&cfg, "global\n  maxconn 4500\n%sdefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 10m\n"+
			"  timeout server 10m\n%s", global, defaults)
		for i, u := range up {
			fmt.Fprintf(&cfg, "listen r%d\n  bind 127.0.0.1:%d\n  server s %s\n", i, listen[i], u)
		}
		path := filepath.Join(dir, "haproxy.cfg")
		if err := os.WriteFile(path, []byte(cfg.String()), 0o644); err != nil {
			return nil, err
		}
		c := exec.Command("haproxy", "-db", "-q", "-f", path)
		return startProcs(c)
	}
}

func startSocat(tuned bool) func(string, []int, []string) ([]*exec.Cmd, error) {
	return func(dir string, listen []int, up []string) ([]*exec.Cmd, error) {
		var cmds []*exec.Cmd
		for i, u := range up {
			args := []string{}
			if tuned {
				args = append(args, "-b", "262144")
			}
			args = append(args, fmt.Sprintf("TCP-LISTEN:%d,bind=127.0.0.1,fork,reuseaddr,backlog=1024", listen[i]), "TCP:"+u)
			cmds = append(cmds, exec.Command("socat", args...))
		}
		return startProcs(cmds...)
	}
}

// measureThroughput sends 256 KiB writes on n connections for d, then
// half-closes each and waits for the sink's byte count: MB/s acknowledged,
// and the MB.
func measureThroughput(addr string, n int, d time.Duration) (mbs, mb float64, err error) {
	cs, err := dialN(addr, n)
	if err != nil {
		return 0, 0, err
	}
	defer closeAll(cs)
	time.Sleep(100 * time.Millisecond) // the proxy has dialled the upstream
	var total atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	stop := start.Add(d)
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			_ = c.SetDeadline(stop.Add(30 * time.Second))
			for time.Now().Before(stop) {
				if _, err := c.Write(buf); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
			_ = c.(*net.TCPConn).CloseWrite()
			var ack [8]byte
			if _, err := io.ReadFull(c, ack[:]); err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			total.Add(int64(binary.BigEndian.Uint64(ack[:])))
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if e, _ := firstErr.Load().(error); e != nil {
		return 0, 0, e
	}
	return float64(total.Load()) / 1e6 / el.Seconds(), float64(total.Load()) / 1e6, nil
}

// measureConnect runs n workers that each connect, exchange 1 KiB and
// close, for d (at most 200,000 connections): connections per second, and
// the connections made.
func measureConnect(addr string, n int, d time.Duration) (rate, conns float64, err error) {
	var done atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	stop := start.Add(d)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1024)
			for time.Now().Before(stop) && done.Load() < 200000 {
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err == nil {
					_ = c.SetDeadline(time.Now().Add(10 * time.Second))
					if _, err = c.Write(buf); err == nil {
						_, err = io.ReadFull(c, buf)
					}
					c.Close()
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	conns = float64(done.Load())
	rate = conns / time.Since(start).Seconds()
	if e, _ := firstErr.Load().(error); e != nil {
		return rate, conns, e
	}
	return rate, conns, nil
}

// latency is what measureLatency measured, in µs but for exchanges and
// spread.
type latency struct {
	// p50 and p99 are over every exchange of every connection (pooled): in
	// a closed loop a connection that the proxy serves sooner makes more
	// exchanges, so it counts for more.
	p50, p99 float64
	// mean is over every exchange: with n connections in a closed loop it
	// is n / (exchanges per second), whatever the order of service.
	mean float64
	// connP50 and connP99 weigh each connection alike: each connection's
	// exchanges count 1/len, so the percentile is of the time one
	// connection of the n waits.
	connP50, connP99 float64
	// slowestP50 is the highest of the connections' own medians.
	slowestP50 float64
	// spread is the most exchanges one connection made over the fewest
	// (1: every connection was served alike; 0 when one made none).
	spread float64
	// exchanges is the number of exchanges made.
	exchanges float64
}

// measureLatency runs 1 KiB exchanges on n persistent connections for d
// (at most 100,000 each).
func measureLatency(addr string, n int, d time.Duration) (latency, error) {
	cs, err := dialN(addr, n)
	if err != nil {
		return latency{}, err
	}
	defer closeAll(cs)
	lat := make([][]time.Duration, n)
	var firstErr atomic.Value
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1024)
			_ = c.SetDeadline(stop.Add(30 * time.Second))
			for time.Now().Before(stop) && len(lat[i]) < 100000 {
				t0 := time.Now()
				if _, err := c.Write(buf); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	e, _ := firstErr.Load().(error)
	l, ok := summarizeLatency(lat)
	if !ok {
		return latency{}, errors.Join(errors.New("no exchange completed"), e)
	}
	return l, e
}

// summarizeLatency summarizes the exchanges' times of each connection; ok
// is false when no connection completed one.
func summarizeLatency(lat [][]time.Duration) (l latency, ok bool) {
	us := func(x time.Duration) float64 { return float64(x.Nanoseconds()) / 1e3 }
	type sample struct {
		d time.Duration
		w float64 // 1 / the connection's exchanges
	}
	var all []sample
	var sum time.Duration
	fewest, most := -1, 0
	for _, c := range lat {
		if fewest < 0 || len(c) < fewest {
			fewest = len(c)
		}
		most = max(most, len(c))
		if len(c) == 0 {
			continue
		}
		own := slices.Clone(c)
		slices.Sort(own)
		l.slowestP50 = max(l.slowestP50, us(own[len(own)/2]))
		for _, d := range c {
			all = append(all, sample{d, 1 / float64(len(c))})
			sum += d
		}
	}
	if len(all) == 0 {
		return latency{}, false
	}
	slices.SortFunc(all, func(a, b sample) int { return cmp.Compare(a.d, b.d) })
	l.p50, l.p99 = us(all[len(all)/2].d), us(all[len(all)*99/100].d)
	l.mean = us(sum) / float64(len(all))
	l.exchanges = float64(len(all))
	// Weighted percentiles: the first sample at which the connections'
	// summed weights reach the fraction of their total.
	var total float64
	for _, s := range all {
		total += s.w
	}
	weighted := func(q float64) float64 {
		var acc float64
		for _, s := range all {
			if acc += s.w; acc >= q*total*(1-1e-9) { // float sums of 1/len
				return us(s.d)
			}
		}
		return us(all[len(all)-1].d)
	}
	l.connP50, l.connP99 = weighted(0.5), weighted(0.99)
	if fewest > 0 {
		l.spread = float64(most) / float64(fewest)
	}
	return l, true
}

// measureIdle opens n connections that each complete one exchange (so the
// proxy has connected upstream) and then stay idle, and returns the growth
// of the proxy's proportional set size (Pss, all processes of its process
// groups) per connection, in bytes.
func measureIdle(procs []*exec.Cmd, addr string, n int) (float64, error) {
	before := pssOf(procs)
	cs, err := dialN(addr, n)
	if err != nil {
		return 0, err
	}
	defer closeAll(cs)
	buf := make([]byte, 1024)
	for _, c := range cs {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(buf); err != nil {
			return 0, err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return 0, err
		}
	}
	time.Sleep(time.Second)
	after := pssOf(procs)
	return (float64(after) - float64(before)) / float64(n), nil
}

func dialN(addr string, n int) ([]net.Conn, error) {
	cs := make([]net.Conn, 0, n)
	for range n {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			closeAll(cs)
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func closeAll(cs []net.Conn) {
	for _, c := range cs {
		c.Close()
	}
}

// pssOf sums Pss over every process whose process group is one of procs'
// (the proxies were started as group leaders).
func pssOf(procs []*exec.Cmd) int64 {
	var total int64
	eachInGroups(procs, func(pid int) {
		f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				total += kb << 10
			}
		}
	})
	return total
}

// eachInGroups calls f with the PID of every process whose process group
// is one of procs' (none when procs is empty).
func eachInGroups(procs []*exec.Cmd, f func(pid int)) {
	if len(procs) == 0 {
		return
	}
	groups := map[int]bool{}
	for _, p := range procs {
		groups[p.Process.Pid] = true
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pgid, err := syscall.Getpgid(pid); err == nil && groups[pgid] {
			f(pid)
		}
	}
}

// cpuOf sums user + system time over every process whose process group is
// one of procs' (0 for none), with the time of children they have reaped
// (socat's per-connection processes).
func cpuOf(procs []*exec.Cmd) time.Duration {
	var total time.Duration
	eachInGroups(procs, func(pid int) {
		if ts, err := proccpu.Of(pid); err == nil {
			total += ts.Total()
		}
	})
	return total
}
