// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

// FuzzKMSEndpoint sends arbitrary targets and bodies to the local KMS
// endpoint (in front of a fake key service that seals 32 bytes): it never
// panics, and every answer is either a JSON object or a KMS-shaped error
// whose X-Amzn-ErrorType matches its __type.
func FuzzKMSEndpoint(f *testing.F) {
	for _, seed := range []struct{ target, body string }{
		{"TrentService.GenerateDataKey", `{"KeyId":"k","KeySpec":"AES_256"}`},
		{"TrentService.GenerateDataKey", `{"KeyId":"k","NumberOfBytes":32,"Recipient":{"AttestationDocument":"AA=="}}`},
		{"TrentService.Decrypt", `{"CiphertextBlob":"YmxvYg=="}`},
		{"TrentService.Decrypt", `{"CiphertextBlob":"YmxvYg==","KeyId":"k"}`},
		{"TrentService.GenerateRandom", `{"NumberOfBytes":32}`},
		{"TrentService.GenerateDataKeyPair", `{"KeyId":"k","KeyPairSpec":"ECC_NIST_P256"}`},
		{"TrentService.DescribeKey", `{"KeyId":"k"}`},
		{"TrentService.Frobnicate", `{}`},
		{"TrentService.GenerateRandom", `{"NumberOfBytes":1e99}`},
		{"", `[`},
	} {
		f.Add(seed.target, []byte(seed.body))
	}
	e := newEmulator(f)
	_, c := newFakeClient(f, e, "sealed")
	h, err := NewKMSEndpoint(&KMSEndpointConfig{Client: c, MaxRequestBytes: 4096, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", target)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		out, _ := io.ReadAll(w.Result().Body)
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("answer %d is not a JSON object: %q", w.Code, out)
		}
		if w.Code != 200 {
			if typ, _ := m["__type"].(string); typ == "" || typ != w.Header().Get("X-Amzn-ErrorType") {
				t.Fatalf("error answer %d not KMS-shaped: %q", w.Code, out)
			}
		}
	})
}

// FuzzAppendObject: the endpoint's writer of JSON objects gives, for any
// object json.Unmarshal accepts, valid JSON meaning what encoding/json's
// Marshal of the same members means.
func FuzzAppendObject(f *testing.F) {
	for _, seed := range []string{
		`{"KeyId":"k","KeySpec":"AES_256","EncryptionContext":{"a":"b"}}`,
		`{"a\u0000b":1,"<&>":"<&>","é":[1,2,{"x":null}]," sp ace":true}`,
		`{ "a" : { "b" : [ ] } , "c" : "\"\\" }`,
		`{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var m map[string]json.RawMessage
		if json.Unmarshal(in, &m) != nil || m == nil {
			return
		}
		got := appendObject(nil, m)
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%q: appendObject wrote invalid JSON %q: %v", in, got, err)
		}
		_ = json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("%q: appendObject %q, json.Marshal %q", in, got, want)
		}
	})
}

// FuzzJSONBytes: jsonBytes decodes any JSON value json.Unmarshal accepts
// exactly as json.Unmarshal into a []byte does: the same bytes, or an
// error for both.
func FuzzJSONBytes(f *testing.F) {
	for _, seed := range []string{`"AQIDBA=="`, `"AQIDBA"`, `""`, `"AQ\u0049DBA=="`, `"AQID\nBA=="`, `"A==="`, `"!!"`, `null`, `12`, `"QkJC"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		if !json.Valid(v) {
			return
		}
		var want []byte
		werr := json.Unmarshal(v, &want)
		got, err := jsonBytes(v)
		if (err != nil) != (werr != nil) || err == nil && (!bytes.Equal(got, want) || (got == nil) != (want == nil)) {
			t.Fatalf("%q: jsonBytes %x, %v; json.Unmarshal %x, %v", v, got, err, want, werr)
		}
	})
}

func TestValidOpName(t *testing.T) {
	for s, want := range map[string]bool{"GenerateDataKey": true, "a": true, "": false, "Generate_DataKey": false,
		"Op1": false, "Op@": false, "Op[": false, "Op`": false, "Op{": false, "Opé": false, string(make([]byte, 65)): false,
		"Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": true} {
		if validOpName(s) != want {
			t.Errorf("validOpName(%q) = %v", s, !want)
		}
	}
}

// fuzzParent answers every request with the status and body it holds.
type fuzzParent struct {
	status atomic.Int32
	body   atomic.Value
}

func (p *fuzzParent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(int(p.status.Load()))
	_, _ = w.Write(p.body.Load().([]byte))
}

// FuzzKMSEndpointParentAnswer gives the local KMS endpoint arbitrary
// answers from the key service (as a parent would over plain HTTP, with and
// without Config.KMSAccount) to Recipient and pass-through operations: it
// never panics, always answers the application with a JSON object, never
// answers a Recipient operation 200 from an answer the fuzzer made (no
// envelope for the enclave's key), and never relays a secret member.
func FuzzKMSEndpointParentAnswer(f *testing.F) {
	for _, s := range []string{`{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/x","CiphertextForRecipient":"AAAA"}`, `{"__type":"X#Y","message":"m"}`, `{"KeyMetadata":{"Arn":"arn:aws:kms:us-east-1:111122223333:key/x","KeyId":"x"}}`, `{"Keys":[{"KeyArn":"arn:aws:kms:us-east-1:111122223333:key/x"}]}`, `{"KeyPairSpec":"RSA_2048","PublicKey":"AA==","CiphertextForRecipient":"MAA="}`} {
		for _, op := range []uint8{0, 1, 2, 3, 4, 5} {
			f.Add(op, uint16(200), []byte(s))
		}
	}
	e := newEmulator(f)
	p := &fuzzParent{}
	p.status.Store(200)
	p.body.Store([]byte("{}"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	serveOn(f, ln, p)
	var hs []*KMSEndpoint
	for _, acct := range []string{"", "111122223333"} {
		c, err := New(&Config{NSM: e, Region: "us-east-1", Endpoint: "http://kms.test", InsecureHTTPUnsafe: true, Proxy: "tcp://" + ln.Addr().String(), KMSAccount: acct,
			Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			f.Fatal(err)
		}
		h, err := NewKMSEndpoint(&KMSEndpointConfig{Client: c, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			f.Fatal(err)
		}
		hs = append(hs, h)
	}
	ops := []struct{ op, body string }{
		{"GenerateDataKey", `{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/x","KeySpec":"AES_256"}`},
		{"Decrypt", `{"CiphertextBlob":"YmxvYg==","KeyId":"arn:aws:kms:us-east-1:111122223333:key/x"}`},
		{"GenerateDataKeyPair", `{"KeyId":"k","KeyPairSpec":"RSA_2048"}`},
		{"DescribeKey", `{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/x"}`},
		{"ListKeys", `{}`},
		{"ReEncrypt", `{"CiphertextBlob":"YmxvYg==","SourceKeyId":"k","DestinationKeyId":"k"}`},
	}
	f.Fuzz(func(t *testing.T, op uint8, status uint16, answer []byte) {
		if status < 200 || status > 599 {
			return // informational answers and invalid codes: net/http's business
		}
		p.status.Store(int32(status))
		p.body.Store(answer)
		o := ops[int(op)%len(ops)]
		for _, h := range hs {
			req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(o.body)))
			req.Header.Set("X-Amz-Target", "TrentService."+o.op)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			out := w.Body.Bytes()
			var m map[string]json.RawMessage
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("answer %d is not a JSON object: %q", w.Code, out)
			}
			if w.Code == 200 && (o.op == "GenerateDataKey" || o.op == "Decrypt" || o.op == "GenerateDataKeyPair") {
				t.Fatalf("200 to %s from an answer the fuzzer made: %q", o.op, out)
			}
			if _, ok := secretMember(m); ok && w.Code == 200 {
				t.Fatalf("secret relayed: %q", out)
			}
		}
	})
}
