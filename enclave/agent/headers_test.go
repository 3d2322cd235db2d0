// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/enclavekit/enclavekit/internal/floodtest"
)

// These tests are the parent instance answering the enclave's HTTP
// clients (the credential route, and a plain-http KMS endpoint) with a
// header block of 10 MiB: short distinct lines, each of which Go's
// http.Transport keeps as its own map entry, key and value, unless the
// transport bounds the headers it reads (its default is 10 MiB). Unbounded,
// one such answer cost the agent ~160 MiB of heap per fetch; bounded, the
// fetch fails once the bound is read.

// hugeHeaders is the size of the header block the parent sends: Go's
// default bound, less room for the status line.
const hugeHeaders = 10<<20 - 64<<10

// maxHeaderAlloc is what one fetch through a bounded transport may
// allocate: a few MiB, generous against the bounds' 16 and 64 KiB, and
// far under the ~160 MiB of an unbounded one.
const maxHeaderAlloc = 8 << 20

// TestCredentialsHeaderBound: a credential route answering with 10 MiB of
// headers (and valid credentials after them) is refused once
// maxCredentialsHeader of them are read, at a cost of a few MiB, not the
// ~160 MiB of reading them all.
func TestCredentialsHeaderBound(t *testing.T) {
	addr := floodtest.HeaderFlood(t, hugeHeaders, `{"AccessKeyId":"AKIDPARENT","SecretAccessKey":"s","Token":"t"}`)
	p := &EndpointCredentials{Addr: addr, Timeout: time.Minute}
	var err error
	n := floodtest.Allocated(func() { _, err = p.Retrieve(context.Background()) })
	t.Logf("Retrieve against %.2f MiB of headers: %v; allocated %.1f MiB", float64(hugeHeaders)/(1<<20), err, float64(n)/(1<<20))
	if !errors.Is(err, ErrCredentials) || !strings.Contains(err.Error(), "headers exceeded") {
		t.Errorf("Retrieve: %v, want ErrCredentials for headers over the bound", err)
	}
	if n > maxHeaderAlloc {
		t.Errorf("one fetch allocated %d MiB (want at most %d MiB)", n>>20, maxHeaderAlloc>>20)
	}
}

// TestCredentialsHeadersWithinBound: an answer whose headers come close
// to the bound, far more than host-proxy's route sends (four lines), is
// still read.
func TestCredentialsHeadersWithinBound(t *testing.T) {
	addr := floodtest.HeaderFlood(t, maxCredentialsHeader-1<<10, `{"AccessKeyId":"AKIDHOST","SecretAccessKey":"s","Token":"t"}`)
	c, err := (&EndpointCredentials{Addr: addr, Timeout: time.Minute}).Retrieve(context.Background())
	if err != nil || c.AccessKeyID != "AKIDHOST" {
		t.Fatalf("Retrieve: %+v, %v", c, err)
	}
}

// TestKMSHeaderBound: a plain-http KMS endpoint (InsecureHTTPUnsafe,
// through the parent's proxy) answering with 10 MiB of headers is refused
// once maxKMSHeaderBytes of them are read, at a cost of a few MiB.
func TestKMSHeaderBound(t *testing.T) {
	addr := floodtest.HeaderFlood(t, hugeHeaders, `{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/fake"}`)
	c, err := New(&Config{
		NSM: newEmulator(t), Region: "us-east-1", Endpoint: "http://kms.test", InsecureHTTPUnsafe: true, Proxy: addr,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	call := func() {
		_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/app"), KeySpec: types.DataKeySpecAes256})
	}
	// The SDK makes three attempts, each reading up to maxKMSHeaderBytes
	// of ~6-byte lines: ~10,000 header entries, ~1.7 MiB allocated each.
	n := floodtest.Allocated(call)
	t.Logf("GenerateDataKey against %.2f MiB of headers: %v; allocated %.1f MiB", float64(hugeHeaders)/(1<<20), err, float64(n)/(1<<20))
	if err == nil || !strings.Contains(err.Error(), "headers exceeded") {
		t.Errorf("GenerateDataKey: %v, want an error for headers over the bound", err)
	}
	if n > maxHeaderAlloc {
		t.Errorf("one call allocated %d MiB (want at most %d MiB)", n>>20, maxHeaderAlloc>>20)
	}
}

// TestKMSHeadersWithinBound: the transport reads an answer whose headers
// come close to maxKMSHeaderBytes, far more than AWS KMS sends (a handful
// of lines).
func TestKMSHeadersWithinBound(t *testing.T) {
	addr := floodtest.HeaderFlood(t, maxKMSHeaderBytes-1<<10, "{}")
	u, _ := url.Parse("http://kms.test")
	hc, err := newHTTPClient(u, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get("http://kms.test/")
	if err != nil {
		t.Fatalf("headers within the bound: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "{}" {
		t.Fatalf("headers within the bound: %d %q", resp.StatusCode, b)
	}
}
