// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
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
