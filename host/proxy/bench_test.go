// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Benchmarks of the data path, each measured through the proxy and directly
// against the same loopback upstream in the same run:
//
//	go test -run '^$' -bench Throughput -count 10 -benchtime 2000x ./host/proxy | tee tp.txt
//	go test -run '^$' -bench 'Latency|Connect' -count 6 -benchtime 3000x ./host/proxy | tee lat.txt
//	go tool benchstat -col /path tp.txt lat.txt
//
// Client and upstream are the same code with the same buffers on every path;
// only the address differs.

var benchConns = []int{1, 64, 1000}

// benchEnv is a sink and an echo upstream, with an egress route to each.
type benchEnv struct {
	sinkConns          atomic.Int64 // connections the sink has accepted
	sink, echo         string       // direct addresses
	proxySink, proxyEc string       // through the proxy
	spSink, spEc       string       // through a proxy copying with splice(2)
}

func newBenchEnv(b testing.TB) *benchEnv {
	env := &benchEnv{}
	sink := startServer(b, func(c net.Conn) {
		env.sinkConns.Add(1)
		sinkAndAck(c)
	})
	ech := startServer(b, echoKiB)
	cfg := func(splice bool) *Config {
		return &Config{
			AllowList: []AllowEntry{{Address: "127.0.0.1", Port: sink.port()}, {Address: "127.0.0.1", Port: ech.port()}},
			Routes: []Route{
				{Name: "sink", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: sink.url()},
				{Name: "echo", Direction: Egress, Listen: "tcp://127.0.0.1:0", Destination: ech.url()},
			},
			MaxConnections: 4096,
			splice:         splice,
		}
	}
	p, _ := startProxy(b, cfg(false))
	ps, _ := startProxy(b, cfg(true))
	env.sink, env.echo = sink.l.Addr().String(), ech.l.Addr().String()
	env.proxySink, env.proxyEc = p.Addr("sink").String(), p.Addr("echo").String()
	env.spSink, env.spEc = ps.Addr("sink").String(), ps.Addr("echo").String()
	return env
}

func (e *benchEnv) targets() []struct{ name, sink, echo string } {
	return []struct{ name, sink, echo string }{{"direct", e.sink, e.echo}, {"proxy", e.proxySink, e.proxyEc},
		{"proxy-splice", e.spSink, e.spEc}}
}

func dialAll(b testing.TB, addr string, n int) []net.Conn {
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = c
	}
	return conns
}

// share splits total units among n workers.
func share(total, n, i int) int {
	s := total / n
	if i < total%n {
		s++
	}
	return s
}

const chunk = 1 << 20 // throughput: bytes per benchmark op

// benchThroughput sends b.N MiB spread over conns connections and waits for
// the sink's byte count on each. The clock starts once the sink has accepted
// every connection, so the proxy's accept and upstream dial (measured by
// BenchmarkConnect) are not counted as transfer time. Use -benchtime of at
// least 1000x so that at 1,000 connections every one carries data.
func benchThroughput(b *testing.B, env *benchEnv, addr string, conns int) {
	accepted := env.sinkConns.Load()
	cs := dialAll(b, addr, conns)
	for deadline := time.Now().Add(10 * time.Second); env.sinkConns.Load()-accepted < int64(conns); {
		if time.Now().After(deadline) {
			b.Fatalf("sink accepted %d of %d connections", env.sinkConns.Load()-accepted, conns)
		}
		time.Sleep(time.Millisecond)
	}
	buf := make([]byte, 256<<10)
	b.SetBytes(chunk)
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			left := int64(share(b.N, conns, i)) * chunk
			want := left
			for left > 0 {
				n := int64(len(buf))
				if left < n {
					n = left
				}
				if _, err := c.Write(buf[:n]); err != nil {
					b.Error(err)
					return
				}
				left -= n
			}
			_ = c.(*net.TCPConn).CloseWrite()
			var ack [8]byte
			if _, err := io.ReadFull(c, ack[:]); err != nil || int64(binary.BigEndian.Uint64(ack[:])) != want {
				b.Errorf("sink ack: %v", err)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	// CPU of the whole process (sender, proxy, sink) per MiB moved: a cost
	// that the other processes on a shared machine disturb less than time.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/MiB")
	for _, c := range cs {
		c.Close()
	}
}

// cpuTime is the user+system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchLatency runs b.N 1 KiB request/response exchanges over conns
// persistent connections and reports p50 and p99 in µs, and the process's
// CPU time per exchange.
func benchLatency(b *testing.B, addr string, conns int) {
	cs := dialAll(b, addr, conns)
	lat := make([][]time.Duration, conns)
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1024)
			n := share(b.N, conns, i)
			lat[i] = make([]time.Duration, 0, n)
			for j := 0; j < n; j++ {
				t0 := time.Now()
				if _, err := c.Write(buf); err != nil {
					b.Error(err)
					return
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Error(err)
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	for _, c := range cs {
		c.Close()
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Nanoseconds())/1e3, "p50-µs")
		b.ReportMetric(float64(all[len(all)*99/100].Nanoseconds())/1e3, "p99-µs")
	}
}

// benchConnect opens b.N connections with conns concurrent workers; each
// exchanges 1 KiB and closes. It reports connections per second and the
// process's CPU time per connection.
func benchConnect(b *testing.B, addr string, conns int) {
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1024)
			for j := share(b.N, conns, i); j > 0; j-- {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Error(err)
					return
				}
				_, err = c.Write(buf)
				if err == nil {
					_, err = io.ReadFull(c, buf)
				}
				c.Close()
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "conns/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/conn")
}

func BenchmarkThroughput(b *testing.B) {
	env := newBenchEnv(b)
	for _, n := range benchConns {
		for _, t := range env.targets() {
			b.Run(fmt.Sprintf("conns=%d/path=%s", n, t.name), func(b *testing.B) { benchThroughput(b, env, t.sink, n) })
		}
	}
}

func BenchmarkLatency1KiB(b *testing.B) {
	env := newBenchEnv(b)
	for _, n := range benchConns {
		for _, t := range env.targets() {
			b.Run(fmt.Sprintf("conns=%d/path=%s", n, t.name), func(b *testing.B) { benchLatency(b, t.echo, n) })
		}
	}
}

func BenchmarkConnect(b *testing.B) {
	env := newBenchEnv(b)
	for _, n := range benchConns {
		for _, t := range env.targets() {
			b.Run(fmt.Sprintf("conns=%d/path=%s", n, t.name), func(b *testing.B) { benchConnect(b, t.echo, n) })
		}
	}
}

// sinkAndAck reads c to its end with a 256 KiB buffer (the senders' write
// size: io.Copy(io.Discard, c) would read 8 KiB at a time, a cost every
// path shares that hides part of a proxy's), then writes the byte count
// as 8 big-endian bytes, the acknowledgement the bulk benchmarks wait for.
func sinkAndAck(c net.Conn) { sinkAndAckCounting(c, nil) }

// sinkAndAckCounting is sinkAndAck that adds each read to reads when it is
// not nil.
func sinkAndAckCounting(c net.Conn, reads *atomic.Int64) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		nr, err := c.Read(buf)
		n += int64(nr)
		if reads != nil {
			reads.Add(1)
		}
		if err != nil {
			break
		}
	}
	var ack [8]byte
	binary.BigEndian.PutUint64(ack[:], uint64(n))
	_, _ = c.Write(ack[:])
}

// echoKiB answers every 1 KiB read from c with the same 1 KiB.
func echoKiB(c net.Conn) {
	buf := make([]byte, 1024)
	for {
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}
