// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/internal/floodtest"
)

// hugeAnswer is the size of the body the parent answers with in
// TestClientAnswerBound: 32 times the bound.
const hugeAnswer = 32 << 20

// maxAnswerAlloc is what one call against a hugeAnswer may allocate: a
// few times the bound (the SDK's decoder buffers what it reads; 4.2 MiB
// measured for a chunked answer), far under the 120-184 MiB an unbounded
// read of 32 MiB cost. Under the race detector, which makes sync.Pool
// drop buffers, the same call allocates 8.1-8.2 MiB: twice the room.
func maxAnswerAlloc() uint64 {
	if raceDetector {
		return 16 << 20
	}
	return 8 << 20
}

// TestClientAnswerBound: a plain-http KMS endpoint (InsecureHTTPUnsafe,
// through the parent's proxy) answering a library call (through
// aws-sdk-go-v2) with 32 MiB is refused once the bound is read, or at once
// when its Content-Length says so, with an [AnswerTooLargeError] naming the
// bound, at a cost of a few MiB. Unbounded, one GenerateDataKey allocated
// ~216 MiB for it.
func TestClientAnswerBound(t *testing.T) {
	// Made once, before the measurement, which counts the server's
	// allocations too.
	head := `{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/k","CiphertextBlob":"`
	answer := append(append([]byte(head), bytes.Repeat([]byte("A"), hugeAnswer-len(head)-2)...), `"}`...)
	for _, declared := range []bool{true, false} {
		name := "chunked"
		if declared {
			name = "Content-Length"
		}
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var attempts atomic.Int32
			serveOn(t, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				attempts.Add(1)
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				if declared {
					w.Header().Set("Content-Length", strconv.Itoa(hugeAnswer))
				} else {
					w.(http.Flusher).Flush() // no Content-Length: chunked
				}
				_, _ = w.Write(answer) // fails once the agent gives up
			}))
			c, err := New(&Config{NSM: newEmulator(t), Region: "us-east-1", Endpoint: "http://kms.test", InsecureHTTPUnsafe: true,
				Proxy: "tcp://" + ln.Addr().String(), Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""),
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// The key pair first, outside the measurement: an RSA key
			// generation allocates a varying few MiB of its own.
			if err := c.RotateKey(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			n := floodtest.Allocated(func() {
				_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/app"), KeySpec: types.DataKeySpecAes256})
			})
			t.Logf("GenerateDataKey against a %d MiB answer: %v; %d attempts, allocated %.1f MiB", hugeAnswer>>20, err, attempts.Load(), float64(n)/(1<<20))
			var tooLarge *AnswerTooLargeError
			if !errors.As(err, &tooLarge) || !errors.Is(err, ErrAnswerTooLarge) || tooLarge.Limit != maxKMSResponse {
				t.Fatalf("GenerateDataKey: %v, want an AnswerTooLargeError with Limit %d", err, maxKMSResponse)
			}
			if want := "the key service's answer exceeds " + strconv.Itoa(maxKMSResponse) + " bytes"; !strings.Contains(err.Error(), want) {
				t.Errorf("GenerateDataKey: %q does not say %q", err, want)
			}
			if n > maxAnswerAlloc() {
				t.Errorf("one call allocated %d MiB for a %d MiB answer (want at most %d MiB)", n>>20, hugeAnswer>>20, maxAnswerAlloc()>>20)
			}
		})
	}
}

// TestKMSTransportAnswerBound: the client's transport, which the SDK calls
// and the local KMS endpoint's rawCall share, reads an answer of exactly
// maxKMSResponse bytes whole, with its length declared or not, and refuses
// one byte more with an [AnswerTooLargeError]: at once when the
// Content-Length declares it, after the bound when the body brings it.
func TestKMSTransportAnswerBound(t *testing.T) {
	for _, tc := range []struct {
		name     string
		size     int
		declared bool
		wantErr  bool
	}{
		{"at the bound, Content-Length", maxKMSResponse, true, false},
		{"at the bound, chunked", maxKMSResponse, false, false},
		{"one over, Content-Length", maxKMSResponse + 1, true, true},
		{"one over, chunked", maxKMSResponse + 1, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("a"), tc.size)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			serveOn(t, ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if tc.declared {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				} else {
					w.(http.Flusher).Flush()
				}
				_, _ = w.Write(body)
			}))
			u, _ := url.Parse("http://kms.test")
			hc, err := newHTTPClient(u, "tcp://"+ln.Addr().String(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer hc.CloseIdleConnections()
			resp, err := hc.Get("http://kms.test/")
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			var tooLarge *AnswerTooLargeError
			switch {
			case !tc.wantErr && (err != nil || len(b) != tc.size):
				t.Fatalf("%d bytes, %v; want all %d", len(b), err, tc.size)
			case tc.wantErr && (!errors.As(err, &tooLarge) || tooLarge.Limit != maxKMSResponse):
				t.Fatalf("%d bytes, %v; want an AnswerTooLargeError with Limit %d", len(b), err, maxKMSResponse)
			case tc.wantErr && tc.declared && len(b) != 0:
				t.Fatalf("a Content-Length over the bound: %d bytes read before the refusal, want none", len(b))
			case tc.wantErr && !tc.declared && len(b) > maxKMSResponse:
				t.Fatalf("%d bytes read, more than the bound", len(b))
			}
		})
	}
}
