// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// decode uses goccy/go-json for speed; FuzzDecodeMatchesEncodingJSON holds
// it to encoding/json: the same bodies accepted, the same values decoded.
// Seeded from the request shapes of every operation that decodes a
// Recipient or a blob, with the real AWS attestation documents as
// AttestationDocument.
func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	docs, _ := filepath.Glob("../../testvectors/aws/attestation/real/*")
	for _, p := range docs {
		b, err := os.ReadFile(p)
		if err != nil || len(b) > 64<<10 {
			continue
		}
		body, _ := json.Marshal(map[string]any{"KeyId": "alias/x", "KeySpec": "AES_256", "EncryptionContext": map[string]string{"a": "b"},
			"Recipient": map[string]any{"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": b}})
		f.Add(body)
	}
	for _, s := range []string{
		``, ` `, `{}`, `null`, `[]`, `{"KeyId":"k"}`, `{"KeyId":"k"} `, `{"KeyId":"k"}{}`, `{"KeyId":"k"} x`,
		`{"keyid":"lower","KEYID":"upper"}`, `{"KeyId":"a","KeyId":"b"}`, `{"NumberOfBytes":32}`,
		`{"NumberOfBytes":1.5}`, `{"NumberOfBytes":1e3}`, `{"NumberOfBytes":99999999999999999999}`, `{"NumberOfBytes":-0}`,
		`{"NumberOfBytes":"32"}`, `{"NumberOfBytes":null}`, `{"DryRun":true}`, `{"DryRun":"true"}`, `{"DryRun":1}`,
		`{"Recipient":{"AttestationDocument":"AAEC"}}`, `{"Recipient":{"AttestationDocument":"AAE"}}`,
		`{"Recipient":{"AttestationDocument":"AA\nEC"}}`, `{"Recipient":{"AttestationDocument":"AA\\nEC"}}`,
		`{"Recipient":{"AttestationDocument":"AAEC=="}}`, `{"Recipient":{"AttestationDocument":"AA-_"}}`,
		`{"Recipient":{"AttestationDocument":null}}`, `{"Recipient":null}`, `{"Recipient":[]}`, `{"Recipient":"x"}`,
		`{"CiphertextBlob":"AQID","EncryptionContext":{"k":"v","k":"w"}}`, `{"EncryptionContext":{"k":1}}`,
		`{"Plaintext":"aGVsbG8="}`, `{"GrantTokens":["a",null]}`, `{"KeyId":"\u00e9\ud800"}`, "{\"KeyId\":\"\xff\"}",
		`{"KeyId":"a\u0000b"}`, `{"Unknown":{"deep":[1,2,{"x":null}]},"KeyId":"k"}`, `{"KeyId":k}`, `{"KeyId":"k",}`,
		`{"KeyId" "k"}`, `{` + "\t\r\n" + `"KeyId":"k"}`, `{"KeyId":"k"`, `"just a string"`, `123`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		compareDecode[generateDataKeyInput](t, body)
		compareDecode[generateDataKeyPairInput](t, body)
		compareDecode[encryptInput](t, body)
		compareDecode[decryptInput](t, body)
		compareDecode[reEncryptInput](t, body)
	})
}

func compareDecode[T any](t *testing.T, body []byte) {
	t.Helper()
	var got, want T
	err := decode(body, &got)
	std := body
	if len(bytes.TrimSpace(std)) == 0 {
		std = []byte("{}")
	}
	stdErr := json.Unmarshal(std, &want)
	if (err == nil) != (stdErr == nil) {
		t.Fatalf("%T %q: decode error %v, encoding/json error %v", got, body, err, stdErr)
	}
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) || ae.Code != CodeSerialization {
			t.Fatalf("%T %q: decode error %v, want a %s APIError", got, body, err, CodeSerialization)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%T %q: decode %+v, encoding/json %+v", got, body, got, want)
	}
}

// TestReadBody reads bodies shorter than, as long as and longer than the
// declared length and the reused buffer, and without a declared length.
func TestReadBody(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 100) // 1,600 bytes
	for _, tc := range []struct {
		name     string
		declared int64
		buf      []byte
	}{
		{"declared, no buffer", 1600, nil},
		{"declared, small buffer", 1600, make([]byte, 10)},
		{"declared, large buffer", 1600, make([]byte, 0, 8192)},
		{"undeclared", -1, nil},
		{"declared too short", 100, make([]byte, 0, 50)},
		{"declared too long", 5000, nil},
	} {
		got, err := readBody(bytes.NewReader(body), tc.declared, tc.buf)
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("%s: readBody = %d bytes, %v; want the %d bytes", tc.name, len(got), err, len(body))
		}
	}
}

// TestBodyPoolClears: a body buffer is wiped when it goes back to the pool
// (request bodies carry plaintext and key material), and a buffer over
// maxPooledBody is not kept.
func TestBodyPoolClears(t *testing.T) {
	var bp bodyPool
	b := append(make([]byte, 0, 64), "plaintext secret"...)
	bp.put(b)
	if !bytes.Equal(b[:cap(b)], make([]byte, cap(b))) {
		t.Fatalf("pooled buffer not cleared: %q", b[:cap(b)])
	}
	big := append(make([]byte, 0, maxPooledBody+1), "x"...)
	bp.put(big)
	for range 10 {
		if got := bp.get(); cap(got) > maxPooledBody {
			t.Fatalf("the pool returned a buffer of %d bytes, over the %d limit", cap(got), maxPooledBody)
		}
	}
}

// TestReadBodyReservesOnlyWhatArrives: a declared Content-Length is the
// caller's word, not bytes received, and the body is read before the
// request is authenticated. Reserving all of it up front let anyone who
// reaches the listener hold MaxBodyBytes of the server's memory per
// connection for ReadTimeout with a 200-byte head and no body. At most
// maxBodyReserve is reserved before the bytes arrive; a longer body grows
// the buffer as it comes, and the outgrown buffers are cleared (bodies
// carry plaintext).
func TestReadBodyReservesOnlyWhatArrives(t *testing.T) {
	for _, declared := range []int64{64 << 10, 1 << 20} {
		got, err := readBody(bytes.NewReader(nil), declared, nil)
		if err != nil || len(got) != 0 || cap(got) > maxBodyReserve+1 {
			t.Errorf("declared %d, nothing sent: %d bytes in a buffer of %d, %v; want at most %d reserved", declared, len(got), cap(got), err, maxBodyReserve+1)
		}
	}
	body := bytes.Repeat([]byte("secret plaintext"), 10<<10) // 160 KiB
	var outgrown [][]byte
	r := &spyReader{r: bytes.NewReader(body), seen: &outgrown}
	got, err := readBody(r, int64(len(body)), nil)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("a 160 KiB body: %d bytes, %v", len(got), err)
	}
	for _, b := range outgrown {
		if &b[:cap(b)][cap(b)-1] == &got[:cap(got)][cap(got)-1] {
			continue // the final buffer
		}
		if i := bytes.IndexFunc(b[:cap(b)], func(r rune) bool { return r != 0 }); i >= 0 {
			t.Fatalf("an outgrown buffer of %d bytes still holds the body (byte %d)", cap(b), i)
		}
	}
}

// spyReader records every buffer it is asked to fill.
type spyReader struct {
	r    io.Reader
	seen *[][]byte
}

func (s *spyReader) Read(p []byte) (int, error) {
	if len(p) > 0 {
		*s.seen = append(*s.seen, p[:0:cap(p)])
	}
	return s.r.Read(p)
}

// TestContentType: the Content-Types docs/kms-server.md lists are served
// (application/x-amz-json-1.1, which the AWS SDKs and CLI send, and any
// beginning with application/x-amz-json-1.0 or application/json); any
// other is a SerializationException, before authentication.
func TestContentType(t *testing.T) {
	env := newEnv(t, nil)
	body := []byte(`{}`)
	sum := sha256.Sum256(body)
	for _, tc := range []struct {
		ct   string
		code string
	}{
		{"application/x-amz-json-1.1", ""},
		{"application/x-amz-json-1.1; charset=utf-8", ""},
		{"application/x-amz-json-1.0", ""},
		{"application/json", ""},
		{"text/plain", CodeSerialization},
		{"application/xml", CodeSerialization},
		{"", CodeSerialization},
	} {
		req, _ := http.NewRequest("POST", env.ts.URL+"/", bytes.NewReader(body))
		if tc.ct != "" {
			req.Header.Set("Content-Type", tc.ct)
		}
		req.Header.Set("X-Amz-Target", "TrentService.ListKeys")
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
			req, hex.EncodeToString(sum[:]), "kms", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Amzn-ErrorType"); got != tc.code {
			t.Errorf("Content-Type %q: answered %d %q, want %q", tc.ct, resp.StatusCode, got, tc.code)
		}
	}
}
