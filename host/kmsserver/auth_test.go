// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

// signedPost signs a raw KMS request at signTime and lets tamper change it
// after signing; it returns status, __type and body.
func signedPost(t *testing.T, env *testEnv, target string, body []byte, signTime time.Time, tamper func(*http.Request)) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", env.ts.URL+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+target)
	sum := sha256.Sum256(body)
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
		req, hex.EncodeToString(sum[:]), "kms", "us-east-1", signTime)
	if err != nil {
		t.Fatal(err)
	}
	if tamper != nil {
		tamper(req)
	}
	hdr := map[string]string{}
	for k := range req.Header {
		hdr[k] = req.Header.Get(k)
	}
	var b []byte
	if req.Body != nil {
		buf := new(bytes.Buffer)
		buf.ReadFrom(req.Body)
		b = buf.Bytes()
	}
	return rawPost(t, env.ts.URL+"/", hdr, b)
}

func TestSigV4(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.MaxBodyBytes = 4 << 10 })
	ctx := context.Background()

	// The official client with a wrong secret, an unknown key.
	_, err := env.clientFor(testAKID, "wrong-secret").ListKeys(ctx, &awskms.ListKeysInput{})
	ae := wantCode(t, err, CodeInvalidSignature)
	if !strings.Contains(ae.Message, "signature we calculated does not match") {
		t.Errorf("message: %s", ae.Message)
	}
	_, err = env.clientFor("AKIAUNKNOWN000000000", testSecret).ListKeys(ctx, &awskms.ListKeysInput{})
	wantCode(t, err, CodeUnrecognizedClient)

	now := time.Now()
	for _, tc := range []struct {
		name     string
		target   string
		body     string
		signTime time.Time
		tamper   func(*http.Request)
		status   int
		code     string
		msg      string
	}{
		{"valid", "ListKeys", `{}`, now, nil, 200, "", ""},
		{"stale date", "ListKeys", `{}`, now.Add(-6 * time.Minute), nil, 400, CodeInvalidSignature, "Signature expired"},
		{"future date", "ListKeys", `{}`, now.Add(6 * time.Minute), nil, 400, CodeInvalidSignature, "Signature not yet current"},
		{"body changed after signing", "ListKeys", `{}`, now, func(r *http.Request) {
			r.Body = ioNopCloser(`{"Limit":1}`)
		}, 400, CodeInvalidSignature, "does not match"},
		{"target changed after signing", "ListKeys", `{}`, now, func(r *http.Request) {
			r.Header.Set("X-Amz-Target", "TrentService.ListAliases")
		}, 400, CodeInvalidSignature, "does not match"},
		{"signature flipped", "ListKeys", `{}`, now, func(r *http.Request) {
			a := r.Header.Get("Authorization")
			last := a[len(a)-1]
			if last == '0' {
				last = '1'
			} else {
				last = '0'
			}
			r.Header.Set("Authorization", a[:len(a)-1]+string(last))
		}, 400, CodeInvalidSignature, "does not match"},
		{"payload hash header mismatch", "ListKeys", `{}`, now, func(r *http.Request) {
			r.Header.Set("X-Amz-Content-Sha256", strings.Repeat("0", 64))
		}, 400, CodeInvalidSignature, "x-amz-content-sha256"},
		{"wrong region", "ListKeys", `{}`, now, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/us-east-1/", "/eu-west-1/", 1))
		}, 400, CodeInvalidSignature, "region"},
		{"no date", "ListKeys", `{}`, now, func(r *http.Request) { r.Header.Del("X-Amz-Date") }, 400, CodeIncompleteSignature, "X-Amz-Date"},
		{"missing credential", "ListKeys", `{}`, now, func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00")
		}, 400, CodeIncompleteSignature, "Credential"},
		{"malformed JSON", "ListKeys", `{"Limit":`, now, nil, 400, CodeSerialization, "malformed"},
		{"wrong member type", "ListKeys", `{"Limit":"ten"}`, now, nil, 400, CodeSerialization, "Limit"},
		{"JSON array", "ListKeys", `[]`, now, nil, 400, CodeSerialization, ""},
		{"unknown operation", "Frobnicate", `{}`, now, nil, 400, CodeUnknownOperation, "Frobnicate"},
		{"unsupported operation", "CreateCustomKeyStore", `{}`, now, nil, 400, CodeUnsupportedOperation, "CreateCustomKeyStore"},
		{"oversized body", "Encrypt", `{"Plaintext":"` + strings.Repeat("A", 5000) + `"}`, now, nil, 413, CodeRequestEntityTooLarge, "exceeds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, typ, body := signedPost(t, env, tc.target, []byte(tc.body), tc.signTime, tc.tamper)
			if st != tc.status || typ != tc.code || !strings.Contains(body, tc.msg) {
				t.Fatalf("got %d %s %s, want %d %s containing %q", st, typ, body, tc.status, tc.code, tc.msg)
			}
		})
	}
	// Every refusal is in the audit log as a denial.
	if n := strings.Count(env.audit.String(), `"decision":"deny"`); n < 8 {
		t.Errorf("%d denials audited, want at least 8", n)
	}
}

func TestUnsignedWrongMethod(t *testing.T) {
	env := newEnv(t, nil)
	resp, err := http.Get(env.ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != CodeUnknownOperation || resp.Header.Get("x-amzn-RequestId") == "" {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}
func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd")
	f.Add("AWS4-HMAC-SHA256 Credential=,")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err == nil && (a.accessKeyID == "" || a.signature == "" || a.signedHeaders == "") {
			t.Fatalf("accepted incomplete header %q", h)
		}
		if err != nil && err.Code != CodeIncompleteSignature {
			t.Fatalf("code %s", err.Code)
		}
	})
}

// TestSigV4TargetMustBeSigned: X-Amz-Target chooses the operation, so a
// signature that does not cover it does not authenticate what is done. A
// request signed (e.g. by curl --aws-sigv4, which signs only host and
// x-amz-date) as DescribeKey {"KeyId":K} can be replayed within the clock
// skew as DisableKey or ScheduleKeyDeletion of K. Expected: refused with
// InvalidSignatureException (or IncompleteSignatureException) whenever
// x-amz-target is not in SignedHeaders.
func TestSigV4TargetMustBeSigned(t *testing.T) {
	env := newEnv(t, nil)
	key := env.createKey(t)
	body := []byte(`{"KeyId":"` + key + `"}`)

	req, _ := http.NewRequest("POST", env.ts.URL+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
		req, hex.EncodeToString(sum[:]), "kms", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	// The operation is chosen after signing.
	req.Header.Set("X-Amz-Target", "TrentService.DisableKey")
	hdr := map[string]string{}
	for k := range req.Header {
		hdr[k] = req.Header.Get(k)
	}
	status, code, resp := rawPost(t, env.ts.URL+"/", hdr, body)

	out, err := env.client.DescribeKey(context.Background(), &awskms.DescribeKeyInput{KeyId: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if !out.KeyMetadata.Enabled {
		t.Errorf("an operation outside the signature (X-Amz-Target unsigned) disabled the key: %d %s %s", status, code, resp)
	}
	if code != CodeInvalidSignature && code != CodeIncompleteSignature {
		t.Errorf("unsigned X-Amz-Target: %d %q, want %s or %s", status, code, CodeInvalidSignature, CodeIncompleteSignature)
	}
}

// TestSignerOutput: signerOutput reads the aws-sdk-go-v2 signer's
// Authorization value as parseAuthorization does (the Signature, and
// whether the SignedHeaders are the client's list), for requests signing
// several header sets, against the right list, others and its own
// prefixes and suffixes, and refuses values of any other shape.
func TestSignerOutput(t *testing.T) {
	headerSets := [][][2]string{
		nil,
		{{"X-Amz-Target", "TrentService.GenerateDataKey"}},
		{{"Content-Type", "application/x-amz-json-1.1"}, {"X-Amz-Target", "TrentService.Decrypt"}},
		{{"Content-Type", "application/x-amz-json-1.1"}, {"X-Amz-Target", "TrentService.Encrypt"}, {"X-Amz-Security-Token", "tok, en="},
			{"X-Custom", "a,  b"}, {"Amz-Sdk-Invocation-Id", "0e6c8f1e"}, {"X-Amz-Content-Sha256", strings.Repeat("ab", 32)}},
	}
	for i, hs := range headerSets {
		for _, length := range []int64{0, 7011} {
			req, _ := http.NewRequest("POST", "http://kms.local:8443/", nil)
			for _, h := range hs {
				req.Header.Add(h[0], h[1])
			}
			req.ContentLength = length
			for _, akid := range []string{testAKID, "AKIA/WITH, SignedHeaders=host, Signature=" + strings.Repeat("0", 64)} {
				err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: testSecret},
					req, strings.Repeat("0", 64), "kms", "us-east-1", time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC))
				if err != nil {
					t.Fatal(err)
				}
				vals := req.Header[authorizationKey]
				// parseAuthorization splits at the odd key ID's comma: read
				// the rest of the value with the usual one.
				want, aerr := parseAuthorization(strings.Replace(vals[0], akid, testAKID, 1))
				if aerr != nil {
					t.Fatalf("set %d: parseAuthorization(%q): %v", i, vals[0], aerr)
				}
				lists := []string{want.signedHeaders, "", "host", "host;x-amz-date", want.signedHeaders + ";x-amz-target",
					want.signedHeaders[1:], want.signedHeaders[:len(want.signedHeaders)-1], "x" + want.signedHeaders}
				for _, list := range lists {
					sig, same, ok := signerOutput(vals, list)
					if !ok || sig != want.signature || same != (list == want.signedHeaders) {
						t.Errorf("set %d, key %q: signerOutput(%q, %q) = %q, %v, %v; parseAuthorization: %+v", i, akid, vals[0], list, sig, same, ok, want)
					}
				}
			}
		}
	}
	sig := strings.Repeat("ab", 32)
	for _, bad := range [][]string{
		nil,
		{},
		{"AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=" + sig, "second"},
		{"AWS4-HMAC-SHA1 Credential=a/b, SignedHeaders=host, Signature=" + sig},
		{"AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=" + sig[2:]},
		{"AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=" + sig + "ab"},
		{"AWS4-HMAC-SHA256 Credential=a/b,SignedHeaders=host,Signature=" + sig},
		{"AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=" + sig + ", Extra=1"},
		{"AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host"},
		{"AWS4-HMAC-SHA256 Credential=" + sig},
	} {
		if s, same, ok := signerOutput(bad, "host"); ok {
			t.Errorf("signerOutput(%q) = %q, %v, true", bad, s, same)
		}
	}
	for _, v := range []string{
		"AWS4-HMAC-SHA256 Credential=a/b, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=xhost, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=a/b,SignedHeaders=host, Signature=" + sig,
	} {
		if s, same, ok := signerOutput([]string{v}, "host"); same || s != sig || !ok {
			t.Errorf("signerOutput(%q, host) = %q, %v, %v: want the signature, not the same headers", v, s, same, ok)
		}
	}
	if _, same, _ := signerOutput([]string{"AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=, Signature=" + sig}, ""); same {
		t.Error("an empty list agrees with an empty SignedHeaders")
	}
}

// TestHeaderKeysCanonical: the header keys the request path indexes
// http.Header with directly are in canonical form, so that indexing finds
// what Get finds and sets what Set sets.
func TestHeaderKeysCanonical(t *testing.T) {
	for _, k := range []string{authorizationKey, hdrTarget, hdrContentType, hdrDate, hdrContentSHA256, hdrRequestID, hdrErrorType} {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("%q is not canonical (%q)", k, c)
		}
	}
	h := http.Header{}
	h.Set("x-amz-TARGET", "TrentService.Decrypt")
	h.Add("x-amz-target", "second")
	if got := header(h, hdrTarget); got != h.Get("X-Amz-Target") || got != "TrentService.Decrypt" {
		t.Errorf("header = %q, Get = %q", got, h.Get("X-Amz-Target"))
	}
	if got := header(h, hdrDate); got != "" {
		t.Errorf("absent header = %q", got)
	}
}

// TestAuthenticationBeforeBody: what can be checked of a request's
// authentication without its body (an Authorization header of the right
// form, a configured access key ID, an X-Amz-Date within the skew, the
// credential's scope) is checked before the body is read, and refused
// with the same error as before. Before, the server read the body first:
// a client without any key held a body buffer of up to MaxBodyBytes on
// each connection for the listener's 30 s read timeout (found by review).
// Here the body never finishes: the answer must come without it.
func TestAuthenticationBeforeBody(t *testing.T) {
	env := newEnv(t, nil)
	now := time.Now().UTC()
	date := now.Format(amzDateFormat)
	cred := func(akid, day, region, service string) string {
		return "AWS4-HMAC-SHA256 Credential=" + akid + "/" + day + "/" + region + "/" + service +
			"/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + strings.Repeat("0", 64)
	}
	for _, tc := range []struct {
		name   string
		authz  string
		date   string
		code   string
		msg    string
		status int
	}{
		{"no Authorization", "", date, CodeMissingAuthToken, "Missing Authentication Token", 400},
		{"another algorithm", "AWS4-HMAC-SHA512 Credential=x", date, CodeIncompleteSignature, "algorithm", 400},
		{"no Credential", "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00", date, CodeIncompleteSignature, "Credential", 400},
		{"unknown access key", cred("AKIAUNKNOWN000000000", date[:8], "us-east-1", "kms"), date, CodeUnrecognizedClient, "security token", 400},
		{"no X-Amz-Date", cred(testAKID, date[:8], "us-east-1", "kms"), "", CodeIncompleteSignature, "X-Amz-Date", 400},
		// time.Parse takes fractional seconds the layout does not have: a
		// date header altered after signing still verified.
		{"fractional X-Amz-Date", cred(testAKID, date[:8], "us-east-1", "kms"), date[:15] + ".999999Z", CodeIncompleteSignature, "YYYYMMDD'T'HHMMSS'Z'", 400},
		{"X-Amz-Date with a zone", cred(testAKID, date[:8], "us-east-1", "kms"), date[:15] + "+00:00", CodeIncompleteSignature, "YYYYMMDD'T'HHMMSS'Z'", 400},
		{"stale X-Amz-Date", cred(testAKID, date[:8], "us-east-1", "kms"), now.Add(-6 * time.Minute).Format(amzDateFormat), CodeInvalidSignature, "Signature expired", 400},
		{"future X-Amz-Date", cred(testAKID, date[:8], "us-east-1", "kms"), now.Add(6 * time.Minute).Format(amzDateFormat), CodeInvalidSignature, "not yet current", 400},
		{"scope date", cred(testAKID, "20200101", "us-east-1", "kms"), date, CodeInvalidSignature, "valid date", 400},
		{"region", cred(testAKID, date[:8], "eu-west-1", "kms"), date, CodeInvalidSignature, "valid region", 400},
		{"service", cred(testAKID, date[:8], "us-east-1", "s3"), date, CodeInvalidSignature, "service", 400},
		{"Host not signed", strings.Replace(cred(testAKID, date[:8], "us-east-1", "kms"), "host;", "", 1), date, CodeInvalidSignature, "'Host' must be a signed header", 400},
		{"X-Amz-Target not signed", strings.Replace(cred(testAKID, date[:8], "us-east-1", "kms"), ";x-amz-target", "", 1), date, CodeInvalidSignature, "'X-Amz-Target' must be a signed header", 400},
		{"signed header missing", strings.Replace(cred(testAKID, date[:8], "us-east-1", "kms"), "host;", "host;x-other;", 1), date, CodeInvalidSignature, "x-other", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", strings.TrimPrefix(env.ts.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			req := "POST / HTTP/1.1\r\nHost: kms\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: TrentService.ListKeys\r\n"
			if tc.authz != "" {
				req += "Authorization: " + tc.authz + "\r\n"
			}
			if tc.date != "" {
				req += "X-Amz-Date: " + tc.date + "\r\n"
			}
			req += "Content-Length: 60000\r\n\r\n{\"Limit\":"
			if _, err := io.WriteString(c, req); err != nil {
				t.Fatal(err)
			}
			// The body never ends: without an answer by then, the server
			// is waiting for it (an httptest server has no read timeout).
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer before the body: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get("X-Amzn-ErrorType") != tc.code || !strings.Contains(string(b), tc.msg) {
				t.Fatalf("answered %d %s %s, want %d %s containing %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), b, tc.status, tc.code, tc.msg)
			}
		})
	}
}
