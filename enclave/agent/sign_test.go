// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestSignPassThrough: Sign sends no Recipient, returns the signature, and
// refuses a response without one or for another algorithm.
func TestSignPassThrough(t *testing.T) {
	e := newEmulator(t)
	for _, tc := range []struct {
		name string
		resp map[string]any
		want error
	}{
		{"ok", map[string]any{"KeyId": "k", "SigningAlgorithm": "ECDSA_SHA_256", "Signature": []byte("sig")}, nil},
		{"no signature", map[string]any{"KeyId": "k", "SigningAlgorithm": "ECDSA_SHA_256"}, ErrNoSignature},
		{"other algorithm", map[string]any{"KeyId": "k", "SigningAlgorithm": "ECDSA_SHA_384", "Signature": []byte("sig")}, ErrNoSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			serveOn(t, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var req map[string]any
				json.NewDecoder(r.Body).Decode(&req)
				if _, ok := req["Recipient"]; ok || r.Header.Get("X-Amz-Target") != "TrentService.Sign" {
					t.Errorf("request %v to %s", req, r.Header.Get("X-Amz-Target"))
				}
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				json.NewEncoder(w).Encode(tc.resp)
			}))
			c, err := New(&Config{NSM: e, Region: "us-east-1", Endpoint: "http://kms.test", InsecureHTTPUnsafe: true,
				Proxy: "tcp://" + ln.Addr().String(), Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s, err := c.Sign(context.Background(), &kms.SignInput{KeyId: aws.String("k"), Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256"})
			if tc.want == nil {
				if err != nil || string(s.Signature) != "sig" {
					t.Fatalf("Sign = %+v, %v", s, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Sign error %v, want %v", err, tc.want)
			}
		})
	}
	c := &Client{}
	if _, err := c.Sign(context.Background(), &kms.SignInput{KeyId: aws.String("k")}); err == nil {
		t.Fatal("Sign without a message succeeded")
	}
}
