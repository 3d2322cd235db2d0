// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"net"
	"os"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkIdleMemory opens idleConns connections to an upstream that
// accepts and never reads or writes, directly and through the proxy, and
// reports what the process holds per connection once they are all idle:
// Go heap objects, goroutine stacks, goroutines and resident set size.
// The proxy's own cost per idle connection is path=proxy minus
// path=direct (the client's and the upstream's sockets and goroutines are
// on both paths):
//
//	go test -run '^$' -bench IdleMemory -benchtime 1x -count 3 ./host/proxy
//
// b.N is ignored beyond the first iteration: one measurement per run.
func BenchmarkIdleMemory(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("ENCLAVEKIT_IDLE_CONNS")); err == nil && v > 0 {
		n = v
	}
	var accepted atomic.Int64
	up := startServer(b, func(c net.Conn) {
		accepted.Add(1)
		var one [1]byte
		_, _ = c.Read(one[:]) // returns when the client side closes
	})
	cfg := func(splice bool) *Config {
		return &Config{
			AllowList:      []AllowEntry{{Address: "127.0.0.1", Port: up.port()}},
			Routes:         []Route{{Name: "idle", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: up.url()}},
			MaxConnections: 2 * n,
			splice:         splice,
		}
	}
	p, _ := startProxy(b, cfg(false))
	ps, _ := startProxy(b, cfg(true))
	for _, t := range []struct{ name, addr string }{{"direct", up.l.Addr().String()},
		{"proxy", p.Addr("idle").String()}, {"proxy-splice", ps.Addr("idle").String()}} {
		b.Run("path="+t.name, func(b *testing.B) {
			before := idleSnapshot()
			a0 := accepted.Load()
			cs := dialAll(b, t.addr, n)
			for deadline := time.Now().Add(30 * time.Second); accepted.Load()-a0 < int64(n); {
				if time.Now().After(deadline) {
					b.Fatalf("upstream accepted %d of %d", accepted.Load()-a0, n)
				}
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(500 * time.Millisecond) // every direction parked (parkAfter) or waiting in its read
			after := idleSnapshot()
			for i := range b.N {
				_ = i // one measurement; the loop only satisfies the benchmark API
			}
			per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
			b.ReportMetric(per(after.heap, before.heap), "heap-B/conn")
			b.ReportMetric(per(after.stacks, before.stacks), "stack-B/conn")
			b.ReportMetric(per(after.goroutines, before.goroutines), "goroutines/conn")
			b.ReportMetric(per(after.rss, before.rss), "rss-B/conn")
			b.ReportMetric(per(after.heap+after.stacks, before.heap+before.stacks), "go-B/conn")
			var wg sync.WaitGroup
			for _, c := range cs {
				wg.Add(1)
				go func() { defer wg.Done(); c.Close() }()
			}
			wg.Wait()
			// Let the proxy and the upstream see the closes before the next path.
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if g := uint64(runtime.NumGoroutine()); g <= before.goroutines+uint64(n) {
					break
				}
			}
		})
	}
}

type memSnapshot struct{ heap, stacks, goroutines, rss uint64 }

func idleSnapshot() memSnapshot {
	runtime.GC()
	debug.FreeOSMemory()
	s := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/memory/classes/os-stacks:bytes"}, {Name: "/sched/goroutines:goroutines"}}
	rtmetrics.Read(s)
	return memSnapshot{heap: s[0].Value.Uint64(), stacks: s[1].Value.Uint64() + s[2].Value.Uint64(),
		goroutines: s[3].Value.Uint64(), rss: rssBytes()}
}

// rssBytes is this process's resident set size (0 where /proc is missing).
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}
