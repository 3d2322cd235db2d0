// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/enclavekit/enclavekit/internal/quote"
)

const (
	sigV4Algorithm = "AWS4-HMAC-SHA256"
	amzDateFormat  = "20060102T150405Z"
	msgBadSig      = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// sigV4Auth is a parsed Authorization header.
type sigV4Auth struct {
	accessKeyID   string
	scopeDate     string
	region        string
	service       string
	signedHeaders string
	signature     string
}

func parseAuthorization(h string) (*sigV4Auth, *APIError) {
	rest, ok := strings.CutPrefix(h, sigV4Algorithm+" ")
	if !ok {
		return nil, apiErr(CodeIncompleteSignature, "Authorization header must use the %s algorithm", sigV4Algorithm)
	}
	a := &sigV4Auth{}
	var cred string
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, apiErr(CodeIncompleteSignature, "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
		}
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			a.signedHeaders = v
		case "Signature":
			a.signature = v
		}
	}
	if cred == "" || a.signedHeaders == "" || a.signature == "" {
		return nil, apiErr(CodeIncompleteSignature, "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || parts[0] == "" {
		return nil, apiErr(CodeIncompleteSignature, "Credential must have the form <access key>/<date>/<region>/<service>/aws4_request")
	}
	a.accessKeyID, a.scopeDate, a.region, a.service = parts[0], parts[1], parts[2], parts[3]
	return a, nil
}

// pendingAuth is a request whose authentication checked out as far as it
// can without the body (authenticateHeader); verifySignature finishes it.
type pendingAuth struct {
	a    *sigV4Auth
	key  AccessKey
	date time.Time     // X-Amz-Date
	re   *http.Request // the request rebuilt with only the signed headers
	// signsLength: content-length is a signed header.
	signsLength bool
}

// authenticateHeader checks what it can of the request's SigV4 signature
// before its body is read: the Authorization header's form, a configured
// access key ID, X-Amz-Date within MaxClockSkew of now, the credential's
// scope (date, region, service) and the signed headers (host and
// X-Amz-Target among them, each present). It returns the claimed access
// key ID too when it refuses the request after reading one. A request
// without a key then costs no body buffer: it is refused before its body
// is read, so its client cannot make the server hold one for the
// listener's read timeout.
func (s *Server) authenticateHeader(r *http.Request, now time.Time) (*pendingAuth, string, *APIError) {
	authz := header(r.Header, authorizationKey)
	if authz == "" {
		return nil, "", apiErr(CodeMissingAuthToken, "Missing Authentication Token")
	}
	a, aerr := parseAuthorization(authz)
	if aerr != nil {
		return nil, "", aerr
	}
	key, ok := s.cfg.AccessKeys[a.accessKeyID]
	if !ok {
		return nil, a.accessKeyID, apiErr(CodeUnrecognizedClient, "The security token included in the request is invalid.")
	}
	amzDate := header(r.Header, hdrDate)
	if amzDate == "" {
		return nil, a.accessKeyID, apiErr(CodeIncompleteSignature, "Authorization header requires existence of a 'X-Amz-Date' header.")
	}
	// time.Parse also takes fractional seconds the layout lacks; the date
	// must be exactly the 16 characters the signature covers.
	t, err := time.Parse(amzDateFormat, amzDate)
	if err != nil || len(amzDate) != len(amzDateFormat) {
		return nil, a.accessKeyID, apiErr(CodeIncompleteSignature, "X-Amz-Date %q is not in the form YYYYMMDD'T'HHMMSS'Z'", clipped(amzDate))
	}
	if a.scopeDate != amzDate[:8] {
		return nil, a.accessKeyID, apiErr(CodeInvalidSignature, "Credential should be scoped to a valid date, %s, not %s", amzDate[:8], clipped(a.scopeDate))
	}
	if a.region != s.cfg.Region {
		return nil, a.accessKeyID, apiErr(CodeInvalidSignature, "Credential should be scoped to a valid region, not '%s'. This server serves '%s'.", clipped(a.region), s.cfg.Region)
	}
	if a.service != "kms" {
		return nil, a.accessKeyID, apiErr(CodeInvalidSignature, "Credential should be scoped to correct service: 'kms'.")
	}
	skew := s.cfg.MaxClockSkew
	now = now.UTC()
	if t.Before(now.Add(-skew)) {
		return nil, a.accessKeyID, apiErr(CodeInvalidSignature, "Signature expired: %s is now earlier than %s (%s - %s.)",
			amzDate, now.Add(-skew).Format(amzDateFormat), now.Format(amzDateFormat), fmtSkew(skew))
	}
	if t.After(now.Add(skew)) {
		return nil, a.accessKeyID, apiErr(CodeInvalidSignature, "Signature not yet current: %s is still later than %s (%s + %s.)",
			amzDate, now.Add(skew).Format(amzDateFormat), now.Format(amzDateFormat), fmtSkew(skew))
	}

	// Rebuild the request with only the headers the client signed.
	signed := strings.Split(a.signedHeaders, ";")
	p := &pendingAuth{a: a, key: key, date: t}
	hasHost, hasTarget := false, false
	u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	p.re = &http.Request{Method: r.Method, URL: u, Host: r.Host, Header: make(http.Header, len(signed))}
	for _, h := range signed {
		switch h {
		case "host":
			hasHost = true
		case "content-length":
			p.signsLength = true
		case "x-amz-date":
		default:
			if h != strings.ToLower(h) || h == "" {
				return nil, a.accessKeyID, apiErr(CodeInvalidSignature, msgBadSig)
			}
			ck := textproto.CanonicalMIMEHeaderKey(h)
			vals := r.Header[ck]
			if len(vals) == 0 {
				return nil, a.accessKeyID, apiErr(CodeInvalidSignature, "signed header %q is missing from the request", clipped(h))
			}
			p.re.Header[ck] = vals
			hasTarget = hasTarget || h == "x-amz-target"
		}
	}
	if !hasHost {
		return nil, a.accessKeyID, apiErr(CodeInvalidSignature, "'Host' must be a signed header")
	}
	// X-Amz-Target chooses the operation: a signature that does not cover
	// it would let a signed DescribeKey be replayed as DisableKey.
	if !hasTarget && header(r.Header, hdrTarget) != "" {
		return nil, a.accessKeyID, apiErr(CodeInvalidSignature, "'X-Amz-Target' must be a signed header")
	}
	return p, a.accessKeyID, nil
}

// verifySignature finishes the authentication authenticateHeader began,
// with the body: it recomputes the canonical request with the
// aws-sdk-go-v2 signer over the headers the client listed in
// SignedHeaders, the X-Amz-Date it sent, and the SHA-256 of the body
// actually received, and compares the signatures.
func (s *Server) verifySignature(ctx context.Context, r *http.Request, p *pendingAuth, body []byte) *APIError {
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := header(r.Header, hdrContentSHA256); h != "" && !strings.EqualFold(h, payloadHash) {
		return apiErr(CodeInvalidSignature, "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	if p.signsLength {
		p.re.ContentLength = int64(len(body))
	}
	creds := aws.Credentials{AccessKeyID: p.a.accessKeyID, SecretAccessKey: p.key.Secret}
	if err := s.signer.SignHTTP(ctx, creds, p.re, payloadHash, "kms", s.cfg.Region, p.date); err != nil {
		return internalErr()
	}
	wantSig, sameHeaders, ok := signerOutput(p.re.Header[authorizationKey], p.a.signedHeaders)
	if !ok {
		return internalErr()
	}
	if !sameHeaders {
		// The client signed a header the canonical form ignores (or
		// listed headers out of order): the signatures cannot agree.
		return apiErr(CodeInvalidSignature, msgBadSig)
	}
	if subtle.ConstantTimeCompare([]byte(wantSig), []byte(p.a.signature)) != 1 {
		return apiErr(CodeInvalidSignature, msgBadSig)
	}
	return nil
}

// The canonical keys (textproto.CanonicalMIMEHeaderKey) of the headers
// the request path reads and writes, to index http.Header directly as its
// Get and Set do after canonicalizing the key (TestHeaderKeysCanonical).
const (
	authorizationKey  = "Authorization"
	hdrTarget         = "X-Amz-Target"
	hdrContentType    = "Content-Type"
	hdrDate           = "X-Amz-Date"
	hdrContentSHA256  = "X-Amz-Content-Sha256"
	hdrRequestID      = "X-Amzn-Requestid"
	hdrErrorType      = "X-Amzn-Errortype"
	contentTypeJSON11 = "application/x-amz-json-1.1"
)

// header is h.Get(ck) for a canonical key ck, without canonicalizing ck
// again.
func header(h http.Header, ck string) string {
	if v := h[ck]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// signerOutput reads the one Authorization value the aws-sdk-go-v2 signer
// set, which it writes as "AWS4-HMAC-SHA256 Credential=<key ID>/<scope>,
// SignedHeaders=<names>, Signature=<64 hex digits>" (its
// buildAuthorizationHeader): it returns the Signature, and whether the
// SignedHeaders are signedHeaders (the client's list, lower-case names,
// which cannot hold ", SignedHeaders=", nor can the signer's). It reads
// from the end, where the configured key ID and region cannot reach, and
// only the signer's output, never the client's header (that is
// parseAuthorization's); ok is false for any other shape. TestSignerOutput
// holds it to parseAuthorization on the signer's values.
func signerOutput(vals []string, signedHeaders string) (signature string, sameHeaders, ok bool) {
	const sigLen = 2 * sha256.Size
	if len(vals) != 1 {
		return "", false, false
	}
	v := vals[0]
	if !strings.HasPrefix(v, sigV4Algorithm+" Credential=") || len(v) < sigLen {
		return "", false, false
	}
	head, signature := v[:len(v)-sigLen], v[len(v)-sigLen:]
	head, ok = strings.CutSuffix(head, ", Signature=")
	if !ok {
		return "", false, false
	}
	head, sameHeaders = strings.CutSuffix(head, signedHeaders)
	sameHeaders = sameHeaders && signedHeaders != "" && strings.HasSuffix(head, ", SignedHeaders=")
	return signature, sameHeaders, true
}

// maxEchoed bounds the bytes of a request's own value (a header, part of
// one) that an error message quotes: the message goes into the audit line
// too, and an unauthenticated request must not make a line much larger
// than a fixed size whatever it sends.
const maxEchoed = 64

// clipped is v, cut to maxEchoed bytes at a rune boundary (quote.Cut)
// and marked with "..." when longer.
func clipped(v string) string {
	p, note := quote.Cut(v, maxEchoed)
	if note == "" {
		return v
	}
	return p + "..."
}

// Placeholders of the audit line for request values it does not record.
const (
	// auditMalformedAccessKeyID takes the place of a claimed access key
	// ID that is neither configured nor of an AWS access key ID's shape.
	auditMalformedAccessKeyID = "(malformed)"
)

// auditAccessKeyID is what the audit line records of the access key ID
// a request claimed (before its signature is checked, anyone's choice):
// the ID if it is configured or has an AWS access key ID's shape (16 to
// 128 characters A-Z and 0-9, as kms-server's own are: AKIA and 16 more),
// else auditMalformedAccessKeyID.
func (s *Server) auditAccessKeyID(id string) string {
	if id == "" {
		return ""
	}
	if _, ok := s.cfg.AccessKeys[id]; ok {
		return id
	}
	if len(id) < 16 || len(id) > 128 {
		return auditMalformedAccessKeyID
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return auditMalformedAccessKeyID
		}
	}
	return id
}

func fmtSkew(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
	return d.String()
}

func newSigner() *v4.Signer { return v4.NewSigner() }
