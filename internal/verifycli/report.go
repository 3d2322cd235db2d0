// SPDX-License-Identifier: Apache-2.0

package verifycli

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/cli"
	"github.com/enclavekit/enclavekit/internal/quote"
)

// MediaType identifies the JSON report format.
const MediaType = "application/vnd.enclavekit.verification+json;version=1"

// The kinds of document nitro-verify verifies, the report's "kind" and
// its verification's: what the PCRs, and everything else the document
// says, are about.
const (
	// KindNitroEnclave is a Nitro Enclave's attestation document (without
	// --nitrotpm): its PCRs measure the enclave image.
	KindNitroEnclave = "nitro_enclave"
	// KindNitroTPM is an EC2 instance's NitroTPM attestation document
	// (--nitrotpm): its PCRs are the instance's TPM PCRs, some of which
	// (PCR8-15, 16, 23) the instance's OS extends at will; they say
	// nothing about any enclave.
	KindNitroTPM = "nitrotpm"
)

// Report is the JSON report written with --json. Its strings are written
// with every control character escaped, C1 ones (U+0080-U+009F) and DEL
// included (\u009b): a document chooses its module_id and the subjects of
// its certificates.
type Report struct {
	MediaType string `json:"mediaType"`
	// Kind is the kind of document verified (KindNitroEnclave or
	// KindNitroTPM): with Verified, the document is one of that kind, and
	// its PCRs are that kind's. A tool reading Verified must check it.
	Kind     string `json:"kind"`
	Verified bool   `json:"verified"`
	// Error is set only on rejection.
	Error *ReportError `json:"error,omitempty"`
	// Input describes what was read, when it was read.
	Input *ReportInput `json:"input,omitempty"`
	// Verification is the policy applied.
	Verification ReportPolicy `json:"verification"`
	// Document is set whenever the input parsed, verified or not.
	Document *ReportDocument `json:"document,omitempty"`
	// Connection is set with --connect.
	Connection *ReportConnection `json:"connection,omitempty"`
}

// ReportInput describes the input.
type ReportInput struct {
	Encoding Encoding `json:"encoding,omitempty"`
	// Size is the size of the decoded document in bytes.
	Size int `json:"size"`
}

// ReportPolicy is the verification policy, as applied.
type ReportPolicy struct {
	// Kind is the kind of document the policy accepts: KindNitroTPM with
	// --nitrotpm, KindNitroEnclave otherwise.
	Kind string `json:"kind"`
	// Time is the verification time (RFC 3339); with AtDocumentTime the
	// certificates were checked at the document's timestamp instead.
	Time           string `json:"time"`
	AtDocumentTime bool   `json:"at_document_time"`
	// Roots lists the trusted roots' subjects and SHA-256 fingerprints.
	Roots        []ReportRoot `json:"roots"`
	MaxAge       string       `json:"max_age,omitempty"`
	ExpectedPCRs []int        `json:"expected_pcrs,omitempty"`
	Nonce        *string      `json:"nonce,omitempty"`
	UserData     *string      `json:"user_data,omitempty"`
	PublicKey    *string      `json:"public_key,omitempty"`
	AllowDebug   bool         `json:"allow_debug"`
	// AnyImageUnsafe is set (true) with --connect --any-image-unsafe when
	// the expected PCRs pin no enclave image ([attestedtls.PinsImage] is
	// false): any genuine enclave passed, one the parent instance runs
	// itself included. It is absent otherwise, and so when the expected
	// PCRs pin the image whatever the flag.
	AnyImageUnsafe bool `json:"any_image_unsafe,omitempty"`
}

// ReportRoot is a trusted root.
type ReportRoot struct {
	Subject string `json:"subject"`
	SHA256  string `json:"sha256"`
}

// ReportError is a rejection: a stable code, the message, a hint, and the
// details of the error type.
type ReportError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// PCRMismatches lists every mismatched PCR (code pcr_mismatch).
	PCRMismatches []ReportPCRMismatch `json:"pcr_mismatches,omitempty"`
	// Field names the field concerned (malformed, *_mismatch, not_enclave,
	// not_nitrotpm).
	Field string `json:"field,omitempty"`
	// Expected and Actual are hex (*_mismatch); Actual null when absent.
	Expected *string `json:"expected,omitempty"`
	Actual   *string `json:"actual,omitempty"`
	// Certificate validity errors.
	Position  string `json:"position,omitempty"`
	Subject   string `json:"subject,omitempty"`
	NotBefore string `json:"not_before,omitempty"`
	NotAfter  string `json:"not_after,omitempty"`
	At        string `json:"at,omitempty"`
	// Freshness errors.
	Timestamp string `json:"timestamp,omitempty"`
	Limit     string `json:"limit,omitempty"`
}

// ReportPCRMismatch is one mismatched PCR; Actual is null when the
// document has no such PCR.
type ReportPCRMismatch struct {
	Index    int     `json:"index"`
	Expected string  `json:"expected"`
	Actual   *string `json:"actual"`
}

// ReportDocument is the document's content. Byte fields are hex (null
// when the document has null or no such field), times RFC 3339.
type ReportDocument struct {
	ModuleID    string              `json:"module_id"`
	Digest      string              `json:"digest"`
	Timestamp   string              `json:"timestamp"`
	Debug       bool                `json:"debug"`
	PCRs        []ReportPCR         `json:"pcrs"`
	PublicKey   *string             `json:"public_key"`
	UserData    *string             `json:"user_data"`
	Nonce       *string             `json:"nonce"`
	Certificate ReportCertificate   `json:"certificate"`
	CABundle    []ReportCertificate `json:"cabundle"`
}

// ReportPCR is one PCR; Expected is set when the policy pinned it.
type ReportPCR struct {
	Index    int     `json:"index"`
	Value    string  `json:"value"`
	Expected *string `json:"expected,omitempty"`
	Match    *bool   `json:"match,omitempty"`
}

// ReportCertificate summarises a certificate.
type ReportCertificate struct {
	Subject   string `json:"subject"`
	Issuer    string `json:"issuer"`
	Serial    string `json:"serial"`
	NotBefore string `json:"not_before"`
	NotAfter  string `json:"not_after"`
	SHA256    string `json:"sha256"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func hexPtr(b []byte) *string {
	if b == nil {
		return nil
	}
	s := hex.EncodeToString(b)
	return &s
}

func certReport(c *x509.Certificate) ReportCertificate {
	sum := sha256.Sum256(c.Raw)
	return ReportCertificate{
		Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: hex.EncodeToString(c.SerialNumber.Bytes()),
		NotBefore: rfc3339(c.NotBefore), NotAfter: rfc3339(c.NotAfter), SHA256: hex.EncodeToString(sum[:]),
	}
}

func documentReport(d *attestation.Document, expected map[int][]byte) *ReportDocument {
	r := &ReportDocument{
		ModuleID: d.ModuleID, Digest: d.Digest, Timestamp: rfc3339(d.Timestamp), Debug: d.Debug(),
		PublicKey: hexPtr(d.PublicKey), UserData: hexPtr(d.UserData), Nonce: hexPtr(d.Nonce),
		PCRs: []ReportPCR{}, CABundle: []ReportCertificate{},
	}
	idx := make([]int, 0, len(d.PCRs))
	for i := range d.PCRs {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		p := ReportPCR{Index: i, Value: hex.EncodeToString(d.PCRs[i])}
		if want, ok := expected[i]; ok {
			p.Expected = hexPtr(want)
			m := bytes.Equal(want, d.PCRs[i])
			p.Match = &m
		}
		r.PCRs = append(r.PCRs, p)
	}
	if d.Certificate != nil {
		r.Certificate = certReport(d.Certificate)
	}
	for _, c := range d.CABundle {
		r.CABundle = append(r.CABundle, certReport(c))
	}
	return r
}

// errorReport fills the code, message, hint and the details of err.
func errorReport(err error, c *config) *ReportError {
	code := attestation.ErrorCode(err)
	r := &ReportError{Code: code, Message: message(err), Hint: hint(code, c)}
	var pm *attestation.PCRMismatchError
	var mal *attestation.MalformedError
	var mm *attestation.MismatchError
	var ve *attestation.ValidityError
	var fe *attestation.FreshnessError
	var ne *attestation.NotEnclaveError
	var nt *attestation.NotNitroTPMError
	switch {
	case errors.As(err, &pm):
		for _, m := range pm.Mismatches {
			r.PCRMismatches = append(r.PCRMismatches, ReportPCRMismatch{Index: m.Index, Expected: hex.EncodeToString(m.Want), Actual: hexPtr(m.Got)})
		}
	case errors.As(err, &mal):
		r.Field = mal.Field
	case errors.As(err, &mm):
		r.Field, r.Expected, r.Actual = mm.Field, hexPtr(mm.Want), hexPtr(mm.Got)
	case errors.As(err, &ve):
		r.Position, r.Subject = ve.Position, ve.Subject
		r.NotBefore, r.NotAfter, r.At = rfc3339(ve.NotBefore), rfc3339(ve.NotAfter), rfc3339(ve.At)
	case errors.As(err, &fe):
		r.Timestamp, r.At, r.Limit = rfc3339(fe.Timestamp), rfc3339(fe.At), fe.Limit.String()
	case errors.As(err, &ne):
		r.Field = ne.Field
	case errors.As(err, &nt):
		r.Field = nt.Field
	}
	return r
}

// message states a rejection in nitro-verify's terms: the facts from the
// typed error, without the library's advice (which names Go fields; the
// hint names nitro-verify's flags instead).
func message(err error) string {
	var ve *attestation.ValidityError
	var fe *attestation.FreshnessError
	var ce *attestation.ChainError
	var de *attestation.DebugModeError
	var oe *attestation.OptionsError
	switch {
	case errors.As(err, &ve):
		return ve.Facts()
	case errors.As(err, &fe):
		if fe.Future {
			return fmt.Sprintf("document from the future: timestamp %s is %s after the verification time %s (allowed skew %s)",
				rfc3339(fe.Timestamp), fe.Timestamp.Sub(fe.At), rfc3339(fe.At), fe.Limit)
		}
		return fmt.Sprintf("document too old: timestamp %s is %s before the verification time %s (--max-age %s)",
			rfc3339(fe.Timestamp), fe.At.Sub(fe.Timestamp), rfc3339(fe.At), fe.Limit)
	case errors.As(err, &ce) && ce.UntrustedRoot != "":
		return fmt.Sprintf("untrusted certificate chain: cabundle[0] %q is not a trusted root", ce.UntrustedRoot)
	case errors.As(err, &de):
		return "debug-mode enclave: PCR0, PCR1 and PCR2 are all zero, so its memory is readable from the parent instance"
	case errors.As(err, &oe):
		return "invalid verification options: " + oe.Reason
	}
	return plainMessage(err.Error())
}

// libPrefixes are the Go package prefixes of the libraries nitro-verify
// calls: their errors' words are nitro-verify's, their package names not.
var libPrefixes = []string{"attestedtls: ", "attestation: "}

// plainMessage drops [libPrefixes] from an error's text wherever a
// wrapped message starts, outside quoted server text ([cli.TrimPrefixes]).
// Only the text changes: callers still match the error itself with
// errors.Is and errors.As.
func plainMessage(s string) string { return cli.TrimPrefixes(s, libPrefixes) }

// hint says what would fix or explain a rejection.
func hint(code string, c *config) string {
	if c.connect != "" {
		if h := connectHint(code); h != "" {
			return h
		}
	}
	switch code {
	case "malformed":
		return "the input is not a strictly encoded Nitro Enclaves attestation document (a COSE_Sign1 as raw CBOR, base64 or hex)"
	case "unsupported_algorithm":
		return "Nitro Security Module documents are signed with ES384 by an ECDSA P-384 leaf; this one was not made by an NSM"
	case "bad_signature":
		return "the document was changed after it was signed, or signed with another key than its leaf certificate's"
	case "untrusted_chain":
		if c.rootFile == "" {
			return "the chain does not lead to the AWS Nitro Enclaves root; for an emulator's documents pass its root with --root FILE, only if you trust it"
		}
		return "the chain does not lead to a root in " + c.rootFile + "; give another root with --root FILE only if you trust it"
	case "certificate_expired":
		if !c.atDocument {
			return "leaf certificates live 3 hours: verify a stored document at its own time with --at document (and bound its age with --max-age)"
		}
		return "a certificate had expired at the document's own timestamp: the document was not made by a live NSM"
	case "certificate_not_yet_valid":
		if !c.atDocument {
			return "check the clock, or verify at another time with --at TIME or --at document"
		}
		return "a certificate was not yet valid at the document's own timestamp: the document was not made by a live NSM"
	case "pcr_mismatch":
		return "the enclave image or its configuration differs from the expected measurements (see nitro-cli describe-eif); PCR4 depends on the parent instance, PCR8 exists only for signed images"
	case "nonce_mismatch":
		return "the document answers another challenge: ask for a new document with your nonce"
	case "user_data_mismatch":
		return "the user data differs from --user-data"
	case "public_key_mismatch":
		return "the public key differs from --public-key"
	case "too_old":
		return "ask for a fresh document, or raise --max-age"
	case "from_future":
		return "the document's timestamp is after the verification time: check the clocks, or verify with --at TIME"
	case "debug_mode":
		return "debug-mode enclaves expose their memory to the parent instance; --allow-debug accepts them (development only)"
	case "not_enclave":
		return "this is a NitroTPM attestation of an EC2 instance, not of a Nitro Enclave; verify it as one with --nitrotpm"
	case "not_nitrotpm":
		return "this is a Nitro Enclave's attestation document, not an EC2 instance's NitroTPM document; verify it without --nitrotpm"
	}
	return ""
}

// errWriter is a writer that remembers its first error and then writes
// nothing more, so that a report is written with fmt.Fprintf and its
// errors checked once, at the end.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	e.err = err
	return n, err
}

// writeTextReport writes a text report with write and returns the exit
// status: verified, or a usage (I/O) error when the report could not be
// written (exit 2, as for a --json report: a script reading the output
// must not take a truncated report for a verdict).
func writeTextReport(p *cli.Program, write func(w io.Writer)) int {
	ew := &errWriter{w: p.Stdout}
	write(ew)
	if ew.err != nil {
		p.Errorf("writing the report: %v", ew.err)
		return ExitUsage
	}
	return ExitVerified
}

// writeText writes the human report of a verified document; write errors
// are for the caller to check (see [writeTextReport]).
func writeText(w io.Writer, d *attestation.Document, c *config, pol *ReportPolicy) {
	if c.nitroTPM {
		fmt.Fprintf(w, "Verified: NitroTPM attestation document (EC2 instance)\n\n")
		fmt.Fprintf(w, "Kind         %s (the PCRs are the EC2 instance's NitroTPM PCRs, not an enclave's)\n", KindNitroTPM)
	} else {
		fmt.Fprintf(w, "Verified: Nitro Enclaves attestation document\n\n")
		fmt.Fprintf(w, "Kind         %s\n", KindNitroEnclave)
	}
	// The document's strings are written with their control characters
	// escaped (quote.Controls): a document chooses its module_id, and a
	// certificate its subject, so they could otherwise clear the terminal
	// and write a verdict of their own.
	fmt.Fprintf(w, "Module ID    %s\n", quote.Controls(d.ModuleID))
	fmt.Fprintf(w, "Timestamp    %s\n", rfc3339(d.Timestamp))
	at := pol.Time
	if c.atDocument {
		at = "the document's timestamp (certificates); freshness at " + pol.Time
	}
	fmt.Fprintf(w, "Verified at  %s\n", at)
	fmt.Fprintf(w, "Digest       %s\n", quote.Controls(d.Digest))
	if c.maxAge > 0 {
		fmt.Fprintf(w, "Max age      %s\n", c.maxAge)
	}
	if d.Debug() && !c.nitroTPM {
		fmt.Fprintf(w, "Debug mode   YES (accepted with --allow-debug: the parent can read the enclave's memory)\n")
	}
	if pol.AnyImageUnsafe {
		fmt.Fprintf(w, "Image        ANY (--any-image-unsafe: no expected PCR pins the enclave image)\n")
	}
	fmt.Fprintf(w, "Public key   %s\n", short(d.PublicKey))
	fmt.Fprintf(w, "User data    %s\n", short(d.UserData))
	fmt.Fprintf(w, "Nonce        %s\n", short(d.Nonce))

	fmt.Fprintf(w, "\nPCRs         actual                                                                                            expected\n")
	rep := documentReport(d, c.pcrs)
	for _, p := range rep.PCRs {
		exp := "-"
		if p.Match != nil {
			exp = "match"
			if !*p.Match {
				exp = "MISMATCH " + *p.Expected
			}
		}
		fmt.Fprintf(w, "  PCR%-2d      %-96s  %s\n", p.Index, p.Value, exp)
	}

	fmt.Fprintf(w, "\nCertificate chain (leaf first)\n")
	chainLine(w, "leaf", d.Certificate)
	names := []string{"root", "regional", "zonal", "instance"}
	for i := len(d.CABundle) - 1; i >= 0; i-- {
		name := fmt.Sprintf("cabundle[%d]", i)
		if i < len(names) && len(d.CABundle) == 4 {
			name += " " + names[i]
		}
		chainLine(w, name, d.CABundle[i])
	}
}

func chainLine(w io.Writer, name string, c *x509.Certificate) {
	fmt.Fprintf(w, "  %-20s %s\n  %-20s valid %s to %s\n", name, quote.Controls(c.Subject.String()), "", rfc3339(c.NotBefore), rfc3339(c.NotAfter))
}

// short renders a byte field for humans: null, or its length and hex (cut
// after 64 bytes).
func short(b []byte) string {
	if b == nil {
		return "null"
	}
	s := hex.EncodeToString(b)
	if len(b) > 64 {
		s = hex.EncodeToString(b[:64]) + "…"
	}
	if len(b) == 0 {
		s = "(empty)"
	}
	return fmt.Sprintf("%d bytes %s", len(b), s)
}

// escapeJSONControls escapes in b, the output of encoding/json, what it
// writes raw that a terminal could act on: DEL, the C1 control characters
// (U+0080-U+009F) and the bidirectional formatting characters
// (quote.IsControl), as \u007f, \u009b, \u202e ..., so that the report
// shown on a terminal cannot act on it; the JSON means the same.
// encoding/json escapes the C0 ones itself, and its output is valid UTF-8,
// where any character above ASCII is inside a string. (So is
// eif.Description.JSON's, for measure: every string and raw value in it
// was decoded and re-encoded, an invalid byte becoming U+FFFD.)
func escapeJSONControls(b []byte) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(b); {
		r, n := rune(b[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(b[i:])
		}
		// encoding/json has escaped C0 already and writes valid UTF-8:
		// what is left is DEL and the runes above ASCII.
		if r < 0x7f || (r == utf8.RuneError && n == 1) || !quote.IsControl(r) {
			i += n
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(b)+16)
		}
		out = append(out, b[last:i]...)
		out = append(out, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
		i += n
		last = i
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

const hexDigits = "0123456789abcdef"
