// SPDX-License-Identifier: Apache-2.0

package attestedtls_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/attestedtls"
)

// imagePolicies are PCR policies, by name, and whether each pins the
// enclave image.
func imagePolicies() map[string]struct {
	pcrs map[int][]byte
	pins bool
} {
	v := bytes.Repeat([]byte{0xab}, 48)
	zero := make([]byte, 48)
	return map[string]struct {
		pcrs map[int][]byte
		pins bool
	}{
		"none":                      {nil, false},
		"empty":                     {map[int][]byte{}, false},
		"PCR4 (the instance)":       {map[int][]byte{4: v}, false},
		"PCR3 and PCR4":             {map[int][]byte{3: v, 4: v}, false},
		"PCR1 alone (kernel)":       {map[int][]byte{1: v}, false},
		"PCR2 alone (ramdisk)":      {map[int][]byte{2: v}, false},
		"PCR16 (the enclave's own)": {map[int][]byte{16: v}, false},
		"PCR0 absent (nil)":         {map[int][]byte{0: nil}, false},
		// Every debug-mode enclave reports zero PCR0-2, whatever its
		// image; every unsigned image has a zero PCR8.
		"PCR0 zero":            {map[int][]byte{0: zero}, false},
		"PCR1 and PCR2 zero":   {map[int][]byte{1: zero, 2: zero}, false},
		"PCR8 zero (unsigned)": {map[int][]byte{8: zero}, false},
		"PCR0":                 {map[int][]byte{0: v}, true},
		"PCR0 and PCR4":        {map[int][]byte{0: v, 4: v}, true},
		"PCR8 (the signer)":    {map[int][]byte{8: v}, true},
		"PCR1 and PCR2":        {map[int][]byte{1: v, 2: v}, true},
	}
}

// TestNewClientRefusesUnpinnedImage: a policy that pins no enclave image
// accepts any enclave, one the parent instance launches itself (a
// non-debug enclave of its own image, on its own Nitro host) included,
// and the parent is then in the middle of every connection. NewClient
// and NewTLSConfig refuse it unless ClientConfig.AnyImageUnsafe, as
// nitro-verify --connect refuses it without --any-image-unsafe.
func TestNewClientRefusesUnpinnedImage(t *testing.T) {
	for name, tc := range imagePolicies() {
		t.Run(name, func(t *testing.T) {
			cfg := &attestedtls.ClientConfig{Options: attestation.Options{PCRs: tc.pcrs, MaxAge: time.Minute}}
			_, err := attestedtls.NewClient(cfg)
			_, err2 := attestedtls.NewTLSConfig(cfg)
			if tc.pins {
				if err != nil || err2 != nil {
					t.Fatalf("refused a policy pinning the image: %v; %v", err, err2)
				}
				return
			}
			for _, err := range []error{err, err2} {
				wantCode(t, err, attestation.CodeInvalidOptions, attestedtls.ErrImageNotPinned, attestedtls.ErrConfig, attestation.ErrInvalidOptions)
				var ie *attestedtls.ImageNotPinnedError
				if !errors.As(err, &ie) {
					t.Fatalf("err = %T %v, want *ImageNotPinnedError", err, err)
				}
				want := []int{}
				for i := range tc.pcrs {
					want = append(want, i)
				}
				slices.Sort(want)
				if !slices.Equal(ie.PCRs, want) {
					t.Errorf("ImageNotPinnedError.PCRs = %v, want %v", ie.PCRs, want)
				}
				if msg := err.Error(); !strings.Contains(msg, "ClientConfig.AnyImageUnsafe") || !strings.Contains(msg, "PCR0") || !strings.Contains(msg, "parent instance") {
					t.Errorf("message %q: want it to name PCR0, the parent instance and ClientConfig.AnyImageUnsafe", msg)
				}
			}
			cfg.AnyImageUnsafe = true
			if _, err := attestedtls.NewClient(cfg); err != nil {
				t.Errorf("AnyImageUnsafe: %v", err)
			}
		})
	}
}

// TestPinsImage: PinsImage is NewClient's rule.
func TestPinsImage(t *testing.T) {
	for name, tc := range imagePolicies() {
		if got := attestedtls.PinsImage(tc.pcrs); got != tc.pins {
			t.Errorf("%s: PinsImage = %v, want %v", name, got, tc.pins)
		}
	}
	// A value of another length matches no document: it counts as
	// pinned (NewClient refuses it for its length, TestNewClientPCRLength).
	if !attestedtls.PinsImage(map[int][]byte{0: {}}) {
		t.Errorf("PCR0 empty, not nil: PinsImage = false, want true")
	}
}

// TestNewClientPCRLength: an expected PCR value is 48 bytes (SHA-384), as
// every document's PCR is (attestation.PCRSize); one of another length
// can never match, so NewClient and NewTLSConfig refuse it as a
// configuration error naming the index, AnyImageUnsafe or not, rather
// than refusing every enclave at the handshake. Found by review: a 32-byte
// PCR0 (a SHA-256 digest) was accepted and then matched no enclave.
func TestNewClientPCRLength(t *testing.T) {
	v := bytes.Repeat([]byte{0xab}, 48)
	for name, tc := range map[string]struct {
		pcrs   map[int][]byte
		reason string
	}{
		"PCR0 of 32 bytes":        {map[int][]byte{0: v[:32]}, "Options.PCRs[0] is 32 bytes, want 48"},
		"PCR8 of 64 bytes":        {map[int][]byte{0: v, 8: append(v, v[:16]...)}, "Options.PCRs[8] is 64 bytes, want 48"},
		"PCR0 empty, not nil":     {map[int][]byte{0: {}}, "Options.PCRs[0] is 0 bytes, want 48"},
		"lowest index named":      {map[int][]byte{0: v, 2: v[:1], 5: v[:2]}, "Options.PCRs[2] is 1 bytes, want 48"},
		"PCR4 of 47, image unset": {map[int][]byte{4: v[:47]}, "Options.PCRs[4] is 47 bytes, want 48"},
	} {
		for _, anyImage := range []bool{false, true} {
			cfg := &attestedtls.ClientConfig{Options: attestation.Options{PCRs: tc.pcrs}, AnyImageUnsafe: anyImage}
			_, err := attestedtls.NewClient(cfg)
			_, err2 := attestedtls.NewTLSConfig(cfg)
			for _, err := range []error{err, err2} {
				wantCode(t, err, attestation.CodeInvalidOptions, attestedtls.ErrConfig, attestation.ErrInvalidOptions)
				var ce *attestedtls.ConfigError
				if !errors.As(err, &ce) || !strings.HasPrefix(ce.Reason, tc.reason) || !strings.Contains(ce.Reason, "SHA-384") {
					t.Errorf("%s (AnyImageUnsafe %v): err = %v, want a ConfigError starting %q and naming SHA-384", name, anyImage, err, tc.reason)
				}
			}
		}
	}
	// nil (the PCR absent) is no length: accepted beside a pinned image.
	if _, err := attestedtls.NewClient(&attestedtls.ClientConfig{Options: attestation.Options{PCRs: map[int][]byte{0: v, 16: nil}}}); err != nil {
		t.Errorf("PCR16 nil: %v", err)
	}
}

// TestAnyImageUnsafe: with AnyImageUnsafe, a client without PCRs
// accepts an enclave of any image, the parent's own included: what the
// option's name warns of. Without it, the client is never made.
func TestAnyImageUnsafe(t *testing.T) {
	parents := newEnclave(t, "the parent's own image")
	cfg := &attestedtls.ClientConfig{Options: attestation.Options{
		Roots:  []*x509.Certificate{parents.emu.Root()},
		MaxAge: 10 * time.Minute,
	}}
	if _, err := attestedtls.NewClient(cfg); !errors.Is(err, attestedtls.ErrImageNotPinned) {
		t.Fatalf("NewClient without PCRs: %v, want ErrImageNotPinned", err)
	}
	cfg.AnyImageUnsafe = true
	cl := newClient(t, cfg)
	conn, err := cl.Dial(ctx(t), "tcp", parents.addr, "")
	if err != nil {
		t.Fatalf("AnyImageUnsafe: Dial: %v", err)
	}
	conn.Close()
	if !bytes.Equal(conn.Document.PCRs[0], pcr0("the parent's own image")) {
		t.Errorf("PCR0 %x", conn.Document.PCRs[0])
	}
}
