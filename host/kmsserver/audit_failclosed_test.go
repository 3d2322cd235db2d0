// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// diskSink is an audit sink on a file system that can fill up: while
// full, a write stores keep bytes of the line (0: none) and fails with
// ENOSPC, as a write(2) that ran out of blocks part way does.
type diskSink struct {
	mu   sync.Mutex
	full bool
	keep int
	b    bytes.Buffer
	// refused counts the writes that failed.
	refused int
}

func (d *diskSink) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.full {
		d.refused++
		n := min(d.keep, len(p))
		d.b.Write(p[:n])
		return n, &sinkErr{syscall.ENOSPC}
	}
	return d.b.Write(p)
}

func (d *diskSink) set(full bool, keep int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.full, d.keep = full, keep
}

func (d *diskSink) refusedWrites() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.refused
}

func (d *diskSink) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.b.String()
}

type sinkErr struct{ err error }

func (e *sinkErr) Error() string { return "write audit.jsonl: " + e.err.Error() }
func (e *sinkErr) Unwrap() error { return e.err }

func healthz(t *testing.T, s *Server) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	return rec.Code, rec.Body.String()
}

// TestAuditFullDiskFailsClosed: once the audit log cannot be written, a
// request that would return plaintext or a data key is answered with
// KMSInternalException and no material; each failed line is counted in
// kms_audit_write_failures_total, and /healthz answers 503 until an
// audit line is written again.
func TestAuditFullDiskFailsClosed(t *testing.T) {
	sink := &diskSink{}
	env := newEnv(t, func(c *Config) { c.AuditLog = sink })
	ctx := context.Background()
	id := env.createKey(t)
	enc, err := env.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := healthz(t, env.srv); code != http.StatusOK {
		t.Fatalf("/healthz before the disk filled: %d", code)
	}
	sink.set(true, 0) // the disk fills up
	for i := 0; i < 3; i++ {
		out, err := env.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
		if err == nil {
			t.Fatalf("Decrypt #%d returned plaintext %q with the audit log unwritable (ENOSPC): no record of who got it", i+1, out.Plaintext)
		}
		wantCode(t, err, CodeInternal)
	}
	dk, err := env.client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), NumberOfBytes: aws.Int32(32)})
	if err == nil {
		t.Fatalf("GenerateDataKey returned a data key (%d bytes) with the audit log unwritable", len(dk.Plaintext))
	}
	wantCode(t, err, CodeInternal)
	if n := counterValue(t, env.srv.metrics.auditFailures); n != 4 {
		t.Errorf("kms_audit_write_failures_total = %v after 4 refused requests, want 4", n)
	}
	if n := counterValue(t, env.srv.metrics.requests.WithLabelValues("Decrypt", CodeInternal)); n != 3 {
		t.Errorf("kms_requests_total{Decrypt,KMSInternalException} = %v, want 3", n)
	}
	code, body := healthz(t, env.srv)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "audit log") {
		t.Fatalf("/healthz with the audit log unwritable: %d %q", code, body)
	}
	if strings.Contains(sink.String(), `"operation":"Decrypt"`) {
		t.Fatalf("a Decrypt line reached the full disk: %q", sink.String())
	}

	sink.set(false, 0) // space freed
	out, err := env.client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(out.Plaintext) != "secret" {
		t.Fatalf("Decrypt once the audit log is writable again: %v", err)
	}
	if code, body := healthz(t, env.srv); code != http.StatusOK {
		t.Fatalf("/healthz once an audit line was written again: %d %q", code, body)
	}
	if !strings.Contains(sink.String(), `"operation":"Decrypt","principal"`) {
		t.Fatalf("the successful Decrypt is not in the audit log: %q", sink.String())
	}
}

// TestAuditShortWriteNextLineFresh: a write that stored part of a line
// before failing (ENOSPC part way) leaves a broken line; the next line
// starts on a line of its own, so a reader skips only the broken one.
func TestAuditShortWriteNextLineFresh(t *testing.T) {
	sink := &diskSink{}
	env := newEnv(t, func(c *Config) { c.AuditLog = sink })
	ctx := context.Background()
	id := env.createKey(t)
	sink.set(true, 17) // 17 bytes of the next line fit
	if _, err := env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)}); err == nil {
		t.Fatal("DescribeKey succeeded with its audit line cut short")
	}
	sink.set(false, 0)
	if _, err := env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(sink.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("audit log %q: want 3 lines (CreateKey, the broken one, DescribeKey)", sink.String())
	}
	if len(lines[1]) != 17 {
		t.Fatalf("broken line %q, want the 17 bytes written", lines[1])
	}
	for _, i := range []int{0, 2} {
		var ev auditEvent
		if err := json.Unmarshal([]byte(lines[i]), &ev); err != nil {
			t.Fatalf("line %d %q does not parse: %v", i+1, lines[i], err)
		}
	}
	if !strings.Contains(lines[2], `"operation":"DescribeKey"`) || !strings.Contains(lines[2], `"decision":"allow"`) {
		t.Fatalf("last line %q", lines[2])
	}
}

var _ io.Writer = (*diskSink)(nil)

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestSweepsWaitForTheAuditLog: while the audit log cannot be written, the
// deletion sweep destroys nothing (a destruction cannot be undone, so it
// happens only when it can be recorded) and counts result
// "audit_unwritable"; once a line is written again, the next sweep
// destroys the key and records it.
func TestSweepsWaitForTheAuditLog(t *testing.T) {
	sink := &diskSink{}
	var now atomic.Pointer[time.Time]
	set := func(t time.Time) { now.Store(&t) }
	set(time.Now())
	env := newEnv(t, func(c *Config) {
		c.AuditLog = sink
		c.Clock = func() time.Time { return *now.Load() }
		// The sweep's clock runs 8 days ahead of a PostgreSQL store's:
		// within the skew, so that only the audit log can stop it.
		c.MaxClockSkew = 9 * 24 * time.Hour
	})
	ctx := context.Background()
	id := env.createKey(t)
	if _, err := env.client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	sink.set(true, 0) // the disk fills up
	_, err := env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	wantCode(t, err, CodeInternal)
	set(time.Now().Add(8 * 24 * time.Hour)) // due
	if n := env.srv.sweepDeletions(ctx); n != 0 {
		t.Fatalf("the sweep destroyed %d keys with the audit log unwritable: no record of the destruction", n)
	}
	if v := metricValue(t, env.srv, "kms_key_deletions_total", resultAuditUnwritable); v != 1 {
		t.Fatalf(`kms_key_deletions_total{result="audit_unwritable"} = %v, want 1`, v)
	}
	sink.set(false, 0) // space freed; a request writes a line again
	set(time.Now())
	if _, err := env.client.ListKeys(ctx, &awskms.ListKeysInput{}); err != nil {
		t.Fatal(err)
	}
	set(time.Now().Add(8 * 24 * time.Hour))
	if n := env.srv.sweepDeletions(ctx); n != 1 {
		t.Fatalf("the sweep destroyed %d keys once the audit log was writable, want 1", n)
	}
	if !strings.Contains(sink.String(), `"operation":"DeleteKey","principal":"kms-server"`) {
		t.Fatalf("no DeleteKey line for the destruction: %q", sink.String())
	}
}

// TestHealthzRecoversWithoutRequests: once the audit log fails, /healthz
// answers 503, and a load balancer sends the node no more requests; so
// the log must be found writable again without one. While it is broken,
// /healthz (and a sweep) writes a line of its own, operation
// AuditLogWritable, at most one at a time and at most once per second by
// the server's clock: a flood of /healthz, which anyone who reaches the
// metrics listener can send, writes no more than that. Once the disk has
// room, /healthz answers 200 with no KMS request, and the sweeps resume.
func TestHealthzRecoversWithoutRequests(t *testing.T) {
	sink := &diskSink{}
	var now atomic.Pointer[time.Time]
	set := func(t time.Time) { now.Store(&t) }
	base := time.Now()
	set(base)
	env := newEnv(t, func(c *Config) {
		c.AuditLog = sink
		c.Clock = func() time.Time { return *now.Load() }
		c.MaxClockSkew = 9 * 24 * time.Hour // the sweep's clock runs 8 days ahead of PostgreSQL's
	})
	ctx := context.Background()
	first, second := env.createKey(t), env.createKey(t)
	for _, id := range []string{first, second} {
		if _, err := env.client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
			t.Fatal(err)
		}
	}
	sink.set(true, 0) // the disk fills up
	_, err := env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(first)})
	wantCode(t, err, CodeInternal)
	if n := sink.refusedWrites(); n != 1 {
		t.Fatalf("%d writes refused after one request, want 1", n)
	}

	// A flood of /healthz while the log is broken: 400 callers, 50 at a
	// time, while the clock moves 2.5 s. At most one probe line per
	// second (plus the one at the start) is tried.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50)
	for i := range 400 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if code, _ := healthz(t, env.srv); code != http.StatusServiceUnavailable {
				t.Errorf("/healthz with the disk full: %d, want 503", code)
			}
		}()
		if i%40 == 39 {
			set(now.Load().Add(250 * time.Millisecond))
		}
	}
	wg.Wait()
	if n := sink.refusedWrites() - 1; n < 1 || n > 3 {
		t.Fatalf("a flood of 400 /healthz over 2.5 s tried %d probe lines, want 1 to 3", n)
	}
	if n := counterValue(t, env.srv.metrics.auditFailures); n != float64(sink.refusedWrites()) {
		t.Errorf("kms_audit_write_failures_total = %v, want %d (the request's line and the probes)", n, sink.refusedWrites())
	}

	// A second on, one /healthz tries exactly one probe line.
	before := sink.refusedWrites()
	set(now.Load().Add(time.Second))
	if code, _ := healthz(t, env.srv); code != http.StatusServiceUnavailable || sink.refusedWrites() != before+1 {
		t.Fatalf("/healthz a second after the flood: %d, %d probe lines tried, want 503 and 1", code, sink.refusedWrites()-before)
	}

	sink.set(false, 0) // space freed; no request comes
	if code, _ := healthz(t, env.srv); code != http.StatusServiceUnavailable {
		t.Fatalf("/healthz within a second of the last probe: %d, want 503 (probes are rate-limited)", code)
	}
	set(now.Load().Add(time.Second))
	if code, body := healthz(t, env.srv); code != http.StatusOK {
		t.Fatalf("/healthz a second later, the disk writable again, no request sent: %d %q", code, body)
	}
	if n := strings.Count(sink.String(), `"operation":"AuditLogWritable","principal":"kms-server","decision":"allow"`); n != 1 {
		t.Fatalf("%d AuditLogWritable lines, want 1: %q", n, sink.String())
	}
	if code, _ := healthz(t, env.srv); code != http.StatusOK || strings.Count(sink.String(), "AuditLogWritable") != 1 {
		t.Fatalf("/healthz while healthy: %d, or it wrote a line", code)
	}
	set(base.Add(8 * 24 * time.Hour)) // both keys due
	if n := env.srv.sweepDeletions(ctx); n != 2 {
		t.Fatalf("the sweep after /healthz recovered destroyed %d keys, want 2", n)
	}

	// Broken again; no /healthz at all: the sweep probes, and runs.
	set(base)
	third := env.createKey(t)
	if _, err := env.client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(third), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	sink.set(true, 0)
	_, err = env.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(third)})
	wantCode(t, err, CodeInternal)
	sink.set(false, 0)
	set(base.Add(8*24*time.Hour + 2*time.Second))
	if n := env.srv.sweepDeletions(ctx); n != 1 {
		t.Fatalf("the sweep once the disk was writable again, with no request and no /healthz, destroyed %d keys, want 1", n)
	}
	if n := strings.Count(sink.String(), "AuditLogWritable"); n != 2 {
		t.Fatalf("%d AuditLogWritable lines, want 2", n)
	}
}
