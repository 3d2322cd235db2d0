// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/prometheus/client_golang/prometheus"
)

// auditEvent is one JSON line of the audit log. It never carries key
// material, plaintext, ciphertext or the attestation document itself.
type auditEvent struct {
	Time        string `json:"time"`
	RequestID   string `json:"requestId"`
	Operation   string `json:"operation"`
	Principal   string `json:"principal,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	SourceIP    string `json:"sourceIp,omitempty"`
	KeyARN      string `json:"keyArn,omitempty"`
	// Decision is "allow" (the request succeeded), "deny" (authentication
	// or authorization refused it) or "error" (anything else).
	Decision     string `json:"decision"`
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
	// PolicyReason is the policy engine's explanation (matched statement,
	// or the failed condition with expected and presented values).
	PolicyReason string `json:"policyReason,omitempty"`
	// AdditionalEventData mirrors CloudTrail's for recipient requests.
	AdditionalEventData *additionalEventData `json:"additionalEventData,omitempty"`
}

type additionalEventData struct {
	// Recipient is an *auditRecipient (a Nitro Enclave's document) or an
	// *auditNitroTPMRecipient (an EC2 instance's NitroTPM document).
	Recipient any `json:"recipient,omitempty"`
}

// auditRecipient is a Nitro Enclave's document in the audit log: plain
// members, encoded without a MarshalJSON of its own.
type auditRecipient struct {
	AttestationDocumentModuleID           string `json:"attestationDocumentModuleId"`
	AttestationDocumentEnclaveImageDigest string `json:"attestationDocumentEnclaveImageDigest,omitempty"`
}

// auditNitroTPMRecipient is a NitroTPM document in the audit log: its
// PCRs written as CloudTrail does, attestationDocumentNitroTPMPCR<n>
// members (see MarshalJSON).
type auditNitroTPMRecipient struct {
	moduleID string
	pcrs     map[int]string
}

// MarshalJSON writes the record, with the PCRs as
// attestationDocumentNitroTPMPCR<n> members in ascending order.
func (r *auditNitroTPMRecipient) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(auditRecipient{AttestationDocumentModuleID: r.moduleID})
	if err != nil || len(r.pcrs) == 0 {
		return b, err
	}
	idx := make([]int, 0, len(r.pcrs))
	for i := range r.pcrs {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	b = b[:len(b)-1] // the closing brace; the object has a member already
	for _, i := range idx {
		v, _ := json.Marshal(r.pcrs[i])
		b = append(b, `,"attestationDocumentNitroTPMPCR`+strconv.Itoa(i)+`":`...)
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

func (ev *auditEvent) finish(code string, err error) {
	switch code {
	case "":
		ev.Decision = "allow"
	case CodeAccessDenied, CodeMissingAuthToken, CodeIncompleteSignature, CodeInvalidSignature, CodeUnrecognizedClient:
		ev.Decision = "deny"
	default:
		ev.Decision = "error"
	}
	ev.ErrorCode = code
	var ae *APIError
	if errors.As(err, &ae) {
		ev.ErrorMessage = ae.Message
	}
}

// auditLog serialises events as JSON lines onto one writer.
type auditLog struct {
	mu  sync.Mutex
	w   io.Writer
	log *slog.Logger
	// failures counts the writes that failed
	// (kms_audit_write_failures_total).
	failures prometheus.Counter
	// failed: the last write failed (logged once until writes succeed
	// again); [Server.Healthy] reports it.
	failed atomic.Bool
	// broken: a failed write left part of a line; the next line starts
	// with a newline, so the broken one ends and a reader can skip it.
	broken bool
	bufs   sync.Pool // *bytes.Buffer for encoding one line
	// probing: a probe line is being written ([Server.probeAuditLog]);
	// it also guards lastProbe.
	probing atomic.Bool
	// lastProbe is when the last probe line was tried, by the server's
	// clock (zero: never).
	lastProbe time.Time
}

// auditLogWritable is the operation of the line kms-server writes of its
// own while its audit log is unwritable, to find it writable again
// ([Server.probeAuditLog]).
const auditLogWritable = "AuditLogWritable"

// auditProbeInterval is the least time between two probe lines.
const auditProbeInterval = time.Second

// errAuditWrite is what a request whose audit line could not be written
// fails with (answered as KMSInternalException, its result withheld).
var errAuditWrite = errors.New("audit log write failed; the request's result is withheld")

// encodeAuditLine appends ev to buf as one JSON line, newline included. It
// encodes with goccy/go-json, which writes the bytes encoding/json writes
// (HTML characters, U+2028 and U+2029 escaped, invalid UTF-8 replaced, the
// output of MarshalJSON compacted; FuzzAuditLineMatchesEncodingJSON and
// TestAuditLineMatchesEncodingJSON hold it to that) in about a quarter of
// the instructions (a Recipient request's line: 17 k → 4.6 k, callgrind).
func encodeAuditLine(buf *bytes.Buffer, ev *auditEvent) error {
	return gojson.NewEncoder(buf).Encode(ev)
}

func newAuditLog(w io.Writer, log *slog.Logger, failures prometheus.Counter) *auditLog {
	a := &auditLog{w: w, log: log, failures: failures}
	a.bufs.New = func() any { return new(bytes.Buffer) }
	return a
}

// write writes ev as one line. An error (the writer's, wrapped in
// errAuditWrite) means the line is not in the log, or only part of it: a
// request answers it with KMSInternalException instead of its result.
func (a *auditLog) write(ev *auditEvent) error {
	buf := a.bufs.Get().(*bytes.Buffer)
	defer a.bufs.Put(buf)
	buf.Reset()
	if err := encodeAuditLine(buf, ev); err != nil {
		a.failures.Inc()
		a.log.Error("audit line not encoded", "error", err)
		return fmt.Errorf("%w: %w", errAuditWrite, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var err error
	if a.broken {
		// The previous write left part of a line: end it first.
		var n int
		n, err = a.w.Write([]byte{'\n'})
		a.broken = n == 0
	}
	if err == nil {
		var n int
		n, err = a.w.Write(buf.Bytes())
		if err != nil && n > 0 {
			a.broken = true
		}
	}
	if err != nil {
		a.failures.Inc()
		if !a.failed.Swap(true) {
			a.log.Error("audit log write failed: requests fail with KMSInternalException, the sweeps wait and /healthz answers 503 until an audit line is written again (/healthz and the sweeps try one, "+auditLogWritable+", at most once a second)", "error", err)
		}
		return fmt.Errorf("%w: %w", errAuditWrite, err)
	}
	if a.failed.Swap(false) {
		a.log.Info("audit log written again")
	}
	return nil
}

// probeAuditLog, while the audit log's last line failed, writes a line of
// its own (operation AuditLogWritable, principal kms-server) to find out
// whether it can be written again; written, the log is healthy again. A
// node whose /healthz answers 503 gets no requests from its load
// balancer, so without this no request's line would ever clear the
// failure, and the sweeps, which wait for the log, would stall too.
// /healthz and the sweeps call it. /healthz is unauthenticated, so a
// flood of it must not flood the log: at most one probe runs at a time
// (the others return at once), and at most one is tried per
// auditProbeInterval by the server's clock (one the clock stepped back
// before is tried at once).
func (s *Server) probeAuditLog() {
	a := s.audit
	if !a.failed.Load() || !a.probing.CompareAndSwap(false, true) {
		return
	}
	defer a.probing.Store(false)
	now := s.cfg.Clock()
	if !a.lastProbe.IsZero() && !now.Before(a.lastProbe) && now.Sub(a.lastProbe) < auditProbeInterval {
		return
	}
	a.lastProbe = now
	// A failure is counted and logged by write, as any line's.
	_ = a.write(&auditEvent{Time: now.UTC().Format(time.RFC3339Nano), RequestID: s.newRequestID(),
		Operation: auditLogWritable, Principal: "kms-server", Decision: "allow"})
}
