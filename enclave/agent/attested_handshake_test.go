// SPDX-License-Identifier: Apache-2.0

package agent_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestedtls"
	"github.com/enclavekit/enclavekit/enclave/agent"
	"github.com/enclavekit/enclavekit/internal/proccpu"
)

// What one TLS handshake costs the enclave, and the parent's cheapest way
// to make it pay for many: it need not complete a handshake, nor compute
// anything, to make the server do all of its work (an ephemeral key
// exchange and the ECDSA signature of CertificateVerify). It can record
// one ClientHello and replay the same bytes on every connection: the
// server answers each with a fresh key share and a fresh signature, and
// the parent closes the connection once that flight is sent. It also
// picks the key exchange, offering only the group that costs the server
// most.

// handshakeGroups are the key exchanges the listener accepts
// (attestedtls.KeyExchanges), each offered alone by the replayed
// ClientHello.
func handshakeGroups() []tls.CurveID { return attestedtls.KeyExchanges() }

// scriptConn plays one side of a connection from memory: reads return in
// and then EOF, writes are counted and dropped.
type scriptConn struct {
	net.Conn // nil: only the methods below are called
	in       *bytes.Reader
	wrote    int
}

func (c *scriptConn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error) { c.wrote += len(p); return len(p), nil }
func (c *scriptConn) Close() error                { return nil }
func (c *scriptConn) SetDeadline(time.Time) error { return nil }

// recordClientHello returns the ClientHello record a TLS 1.3 client
// offering only group sends.
func recordClientHello(tb testing.TB, group tls.CurveID) []byte {
	tb.Helper()
	var rec bytes.Buffer
	c := tls.Client(&recordConn{w: &rec}, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{group}, ServerName: "enclave"})
	_ = c.Handshake() // fails at the first read: the hello is written by then
	if rec.Len() == 0 {
		tb.Fatal("no ClientHello recorded")
	}
	return rec.Bytes()
}

// recordConn records what is written to it; every read is EOF.
type recordConn struct {
	net.Conn
	w io.Writer
}

func (c *recordConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (c *recordConn) Write(p []byte) (int, error)      { return c.w.Write(p) }
func (c *recordConn) Close() error                     { return nil }
func (c *recordConn) SetDeadline(time.Time) error      { return nil }
func (c *recordConn) SetWriteDeadline(time.Time) error { return nil }

// flightJitter is how much the server's flight may vary in length: the
// DER encoding of an ECDSA signature, a few bytes. The server writes the
// flight at once, when the signature is made, so reading all but this
// much of it from a connection shows the work is done.
const flightJitter = 8

// serverFlight runs one server handshake of cfg against the replayed
// hello and returns how many bytes the server wrote (its whole flight:
// ServerHello to Finished, the certificate with its document included).
func serverFlight(cfg *tls.Config, hello []byte) int {
	c := &scriptConn{in: bytes.NewReader(hello)}
	_ = tls.Server(c, cfg).Handshake() // ends at EOF, waiting for the client's Finished
	return c.wrote
}

// TestAttestedRefusesP521: a replayed ClientHello offering only P-521,
// the costliest key exchange (1.7 ms of CPU per handshake when it was
// accepted), gets the alert and nothing else: no key share, no
// signature.
func TestAttestedRefusesP521(t *testing.T) {
	_, a := attestedSetup(t)
	accepted := serverFlight(a.TLSConfig(), recordClientHello(t, tls.X25519))
	if accepted < 1000 {
		t.Fatalf("X25519: the server wrote %d bytes, not a whole flight", accepted)
	}
	if n := serverFlight(a.TLSConfig(), recordClientHello(t, tls.CurveP521)); n > 16 {
		t.Fatalf("P-521: the server wrote %d bytes, want only an alert", n)
	}
}

// BenchmarkAttestedHandshake is the CPU one replayed ClientHello costs
// the attested listener, for each key exchange the parent may choose:
//
//   - tls: the server's handshake alone (its TLS configuration, over an
//     in-memory connection, one goroutine: the figure to count
//     instructions of with callgrind);
//   - listener: the whole connection through Attested.Serve over loopback
//     TCP (accept, the connection's goroutine, the handshake, the close),
//     the attacker's side included, which is a write and a read.
//
// cpu-ns/handshake is the process's CPU time (getrusage) per handshake,
// valid on a loaded machine where ns/op is not.
func BenchmarkAttestedHandshake(b *testing.B) {
	_, a := attestedSetup(b)
	cfg := a.TLSConfig()
	for _, g := range handshakeGroups() {
		hello := recordClientHello(b, g)
		flight := serverFlight(cfg, hello)
		if flight < 1000 {
			b.Fatalf("%v: the server wrote %d bytes, not a whole flight", g, flight)
		}
		b.Run("tls/"+g.String(), func(b *testing.B) {
			c0 := proccpu.Self()
			for b.Loop() {
				if n := serverFlight(cfg, hello); n < flight-flightJitter || n > flight+flightJitter {
					b.Fatalf("the server wrote %d bytes, want %d", n, flight)
				}
			}
			b.ReportMetric(float64((proccpu.Self()-c0).Nanoseconds())/float64(b.N), "cpu-ns/handshake")
		})
	}
	// MaxConns is the default; the handshake rate is set out of the way:
	// this measures what each handshake costs.
	addr := serveBounded(b, agent.AttestedConfig{MaxHandshakeRate: 1 << 30, HandshakeBurst: 1 << 30}, okApp())
	for _, g := range handshakeGroups() {
		hello := recordClientHello(b, g)
		flight := serverFlight(cfg, hello)
		b.Run("listener/"+g.String(), func(b *testing.B) {
			buf := make([]byte, flight-flightJitter)
			c0 := proccpu.Self()
			for b.Loop() {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				_ = c.SetDeadline(time.Now().Add(time.Minute)) // only turns a hang into a failure
				if _, err := c.Write(hello); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatalf("the server's flight: %v", err)
				}
				c.Close()
			}
			b.ReportMetric(float64((proccpu.Self()-c0).Nanoseconds())/float64(b.N), "cpu-ns/handshake")
		})
	}
}

// TestAttestedHandshakeRate is the parent spamming handshakes: more
// connections than the bucket holds, each completing its handshake. The
// listener's clock is a fake one: with it stopped, exactly HandshakeBurst
// handshakes are done and the listener waits 1/MaxHandshakeRate for the
// next token; each time the clock reaches it, one more is done.
// (TestRateListener checks the bucket's arithmetic to the nanosecond.)
func TestAttestedHandshakeRate(t *testing.T) {
	const perSec, burst, attackers = 10, 3, 6
	clk := agent.NewFakeClock(time.Now())
	cfg := agent.AttestedConfig{MaxHandshakeRate: perSec, HandshakeBurst: burst}
	agent.UseFakeClock(&cfg, clk)
	addr := serveBounded(t, cfg, okApp())
	done := make(chan error, attackers)
	for range attackers {
		c := dialTCP(t, addr)
		go func() {
			tc := tlsClient(c)
			_ = tc.SetDeadline(time.Now().Add(time.Minute)) // only turns a hang into a failure
			done <- tc.Handshake()
		}()
	}
	handshakes := func(want int) {
		t.Helper()
		for i := range want {
			if err := <-done; err != nil {
				t.Fatalf("handshake %d: %v", i+1, err)
			}
		}
		if d := clk.NextSleep(t); d != time.Second/perSec {
			t.Fatalf("the listener waits %v for a token, want %v", d, time.Second/perSec)
		}
		// No handshake ends before its accept: none beyond these can
		// end while the listener waits.
		select {
		case err := <-done:
			t.Fatalf("a handshake beyond the %d expected (MaxHandshakeRate %d/s, HandshakeBurst %d) ended: %v", want, perSec, burst, err)
		default:
		}
	}
	handshakes(burst)
	for range attackers - burst - 1 {
		clk.Advance(time.Second / perSec)
		handshakes(1)
	}
}

// TestAttestedHandshakeRateFlood: connections beyond the handshake rate
// wait in the kernel's accept queue, not in the enclave: a flood of
// connections that send nothing grows the goroutines by what the
// burst's connections cost (one each, and one more each while its
// handshake runs), not by the flood, though MaxConns would allow it. The
// listener's clock is stopped, and the count is taken once it waits for
// a token beyond the burst.
func TestAttestedHandshakeRateFlood(t *testing.T) {
	const perSec, burst, flood = 1, 2, 64
	clk := agent.NewFakeClock(time.Now())
	cfg := agent.AttestedConfig{MaxHandshakeRate: perSec, HandshakeBurst: burst}
	agent.UseFakeClock(&cfg, clk)
	addr := serveBounded(t, cfg, okApp())
	before := runtime.NumGoroutine()
	for range flood {
		dialTCP(t, addr)
	}
	if d := clk.NextSleep(t); d != time.Second/perSec {
		t.Fatalf("the listener waits %v for a token, want %v", d, time.Second/perSec)
	}
	if grown := runtime.NumGoroutine() - before; grown > 2*(burst+1)+2 {
		t.Fatalf("%d connections (MaxHandshakeRate %d/s, HandshakeBurst %d) grew the goroutines by %d", flood, perSec, burst, grown)
	}
}
