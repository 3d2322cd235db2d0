// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/enclavekit/enclavekit/internal/sdkhttp"
)

// newServing starts a server on loopback ports with Listen and Serve, as
// kms-server does; stop ends Serve and returns its error.
func newServing(t *testing.T, mod func(*Config)) (srv *Server, stop func() error) {
	t.Helper()
	cfg := &Config{Store: openDir(t, t.TempDir()), RootKey: make([]byte, 32),
		AccessKeys: map[string]AccessKey{testAKID: {Secret: testSecret, PrincipalARN: testPrincipal, Policy: FullAccessPolicy}},
		Listen:     "127.0.0.1:0", MetricsListen: "127.0.0.1:0", ShutdownTimeout: 2 * time.Second}
	if mod != nil {
		mod(cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(time.Minute):
			// Far beyond what Serve may take: ShutdownTimeout (2 s) for
			// the requests in flight, as much for the usage flush.
			t.Fatal("Serve did not return within a minute after its context ended")
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	return srv, stop
}

// sweeps counts the finished sweeps of Serve's background loops (through
// Config.sweepDone), so that a test waits for a sweep instead of a
// duration.
type sweeps struct {
	mu   sync.Mutex
	done map[string]int
	kick chan struct{}
}

// watchSweeps makes c report its sweeps to the returned counter.
func watchSweeps(c *Config) *sweeps {
	w := &sweeps{done: map[string]int{}, kick: make(chan struct{}, 1)}
	c.sweepDone = func(loop string) {
		w.mu.Lock()
		w.done[loop]++
		w.mu.Unlock()
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return w
}

// waitFresh returns once a whole sweep of loop has run after the call
// began: the sweep ending first may have started (and read the clock and
// the store) before, the one after it cannot have.
func (w *sweeps) waitFresh(loop string) {
	w.mu.Lock()
	target := w.done[loop] + 2
	w.mu.Unlock()
	for {
		w.mu.Lock()
		n := w.done[loop]
		w.mu.Unlock()
		if n >= target {
			return
		}
		<-w.kick
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServe: Listen binds both listeners, Serve answers KMS requests,
// /healthz and /metrics until its context ends, then returns nil and
// releases the addresses.
func TestServe(t *testing.T) {
	srv, stop := newServing(t, nil)
	kmsAddr, metricsAddr := srv.Addr("kms").String(), srv.Addr("metrics").String()
	client := awskms.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: sdkhttp.New(nil),
		Credentials: credentials.NewStaticCredentialsProvider(testAKID, testSecret, "")},
		func(o *awskms.Options) { o.BaseEndpoint = aws.String("http://" + kmsAddr) })
	if _, err := client.CreateKey(context.Background(), &awskms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	// Both listeners are bound before Serve starts: a connection waits in
	// the backlog until the metrics server accepts it, so the first answer
	// is the one that counts.
	if code, body := httpGet(t, "http://"+metricsAddr+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, body := httpGet(t, "http://"+metricsAddr+"/metrics"); code != 200 || !strings.Contains(body, `kms_requests_total{code="",operation="CreateKey"} 1`) {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	if err := stop(); err != nil {
		t.Fatalf("Serve after shutdown: %v", err)
	}
	for _, a := range []string{kmsAddr, metricsAddr} {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts after Serve returned", a)
		}
	}
	if srv.Addr("kms") != nil {
		t.Error("Addr after Serve returned")
	}
}

func TestServeBeforeListen(t *testing.T) {
	srv, err := NewServer(&Config{Store: openDir(t, t.TempDir()), RootKey: make([]byte, 32),
		AccessKeys: map[string]AccessKey{testAKID: {Secret: testSecret, PrincipalARN: testPrincipal, Policy: FullAccessPolicy}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(context.Background()); err == nil {
		t.Fatal("Serve before Listen succeeded")
	}
}

// TestListenFailureReleasesAll: when the metrics address is taken, the KMS
// listener bound before it is released and the error names the listener.
func TestListenFailureReleasesAll(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	srv, err := NewServer(&Config{Store: openDir(t, t.TempDir()), RootKey: make([]byte, 32),
		AccessKeys: map[string]AccessKey{testAKID: {Secret: testSecret, PrincipalARN: testPrincipal, Policy: FullAccessPolicy}},
		Listen:     "127.0.0.1:0", MetricsListen: taken.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Listen()
	var oe *net.OpError
	if err == nil || !strings.Contains(err.Error(), "metrics listener") || !errors.As(err, &oe) {
		t.Fatalf("Listen: %v", err)
	}
	if srv.Addr("kms") != nil {
		t.Fatal("KMS listener left bound after a failed Listen")
	}
}

// TestHeaderLimit: the KMS listener refuses oversized headers.
func TestHeaderLimit(t *testing.T) {
	srv, _ := newServing(t, nil)
	req, _ := http.NewRequest("POST", "http://"+srv.Addr("kms").String()+"/", strings.NewReader("{}"))
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
}

// TestServeHTTP1OnlyWhenTLSConfigOffersH2: a Config.TLSConfig that offers
// "h2" in its NextProtos (as autocert's and many copied configurations
// do) does not turn on HTTP/2: the KMS listener negotiates http/1.1, so
// MaxConnections still bounds the requests in flight. Before, HTTP/2 was
// served, with up to 250 concurrent streams per connection past
// MaxConnections (found by review). Here, with MaxConnections 1, a
// request whose body has not finished holds the one connection; a second
// request of the same client, which HTTP/2 would multiplex onto it, must
// wait for it.
func TestServeHTTP1OnlyWhenTLSConfigOffersH2(t *testing.T) {
	tc := selfSignedTLS(t)
	tc.NextProtos = []string{"h2", "http/1.1", "acme-tls/1"}
	srv, _ := newServing(t, func(c *Config) {
		c.MaxConnections = 1
		c.TLSConfig = tc
	})
	if got := strings.Join(tc.NextProtos, ","); got != "h2,http/1.1,acme-tls/1" {
		t.Errorf("the caller's TLSConfig.NextProtos changed to %s", got)
	}
	addr := srv.Addr("kms").String()
	func() {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
			t.Errorf("ALPN negotiated %q, want http/1.1", p)
		}
	}()
	// A client that speaks only h2 gets no HTTP/2 either: no protocol in
	// common fails its handshake.
	if c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}); err == nil {
		p := c.ConnectionState().NegotiatedProtocol
		c.Close()
		t.Errorf("an h2-only client connected, ALPN %q", p)
	}

	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	// The first request passes what is checked before the body (a
	// configured access key ID, a current date) and its body does not end.
	pr, pw := io.Pipe()
	defer pw.Close()
	held, _ := http.NewRequest("POST", "https://"+addr+"/", pr)
	date := time.Now().UTC().Format(amzDateFormat)
	held.Header.Set("Content-Type", "application/x-amz-json-1.1")
	held.Header.Set("X-Amz-Target", "TrentService.ListKeys")
	held.Header.Set("X-Amz-Date", date)
	held.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAKID+"/"+date[:8]+
		"/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature="+strings.Repeat("0", 64))
	held.ContentLength = 2
	type answer struct {
		proto string
		err   error
	}
	do := func(req *http.Request, into chan<- answer) {
		resp, err := cl.Do(req)
		if err != nil {
			into <- answer{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		into <- answer{proto: resp.Proto}
	}
	heldDone, secondDone := make(chan answer, 1), make(chan answer, 1)
	go do(held, heldDone)
	pw.Write([]byte("{"))
	time.Sleep(500 * time.Millisecond) // the held request is in the handler
	second, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
	go do(second, secondDone)
	select {
	case a := <-secondDone:
		t.Fatalf("a second request was answered (%s, %v) while MaxConnections 1 was held by a request in flight", a.proto, a.err)
	case <-time.After(time.Second):
	}
	pw.Write([]byte("}"))
	for name, ch := range map[string]chan answer{"held request": heldDone, "second request": secondDone} {
		select {
		case a := <-ch:
			if a.err != nil || a.proto != "HTTP/1.1" {
				t.Errorf("%s: %s, %v; want HTTP/1.1", name, a.proto, a.err)
			}
		case <-time.After(time.Minute): // only turns a hang into a failure
			t.Fatalf("%s: no answer", name)
		}
	}
}
