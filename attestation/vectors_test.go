// SPDX-License-Identifier: Apache-2.0

package attestation

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/internal/awsvectors"
)

// vectorFacts is the part of a shared vector's .json the tests assert.
type vectorFacts struct {
	Name        string `json:"name"`
	Category    string `json:"category"`
	ModuleID    string `json:"module_id"`
	TimestampMS int64  `json:"timestamp_ms"`
	Digest      string `json:"digest"`
	PCRs        []struct {
		Index   int    `json:"index"`
		Len     int    `json:"len"`
		AllZero bool   `json:"all_zero"`
		Hex     string `json:"hex"`
	} `json:"pcrs"`
	PCRCount    int       `json:"pcr_count"`
	Debug       bool      `json:"debug_mode_pcr0_1_2_all_zero"`
	CABundleLen int       `json:"cabundle_len"`
	PublicKey   userField `json:"public_key"`
	UserData    userField `json:"user_data"`
	Nonce       userField `json:"nonce"`
	Leaf        struct {
		Subject string `json:"subject"`
	} `json:"leaf_certificate"`
	SigOK   *bool    `json:"es384_signature_ok"`
	ChainOK *bool    `json:"chain_ok_at_doc_timestamp"`
	Notes   []string `json:"notes"`

	data []byte
}

type userField struct {
	Null bool   `json:"null"`
	Len  int    `json:"len"`
	Hex  string `json:"hex"`
}

// loadVectors reads every .cbor of a shared vector folder with its facts.
func loadVectors(tb testing.TB, sub string) []vectorFacts {
	tb.Helper()
	dir := awsvectors.Path(tb, "attestation", sub)
	files, err := filepath.Glob(filepath.Join(dir, "*.cbor"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no vectors in %s: %v", dir, err)
	}
	var out []vectorFacts
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		js, err := os.ReadFile(strings.TrimSuffix(f, ".cbor") + ".json")
		if err != nil {
			tb.Fatal(err)
		}
		var v vectorFacts
		if err := json.Unmarshal(js, &v); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		v.data = data
		out = append(out, v)
	}
	return out
}

// expired is a time at which every real document's leaf has expired.
var expired = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

func TestRealDocuments(t *testing.T) {
	vecs := loadVectors(t, "real")
	if len(vecs) != 19 {
		t.Fatalf("got %d real vectors, want 19", len(vecs))
	}
	for _, v := range vecs {
		t.Run(v.Name, func(t *testing.T) {
			ts := time.UnixMilli(v.TimestampMS).UTC()
			opts := Options{AtDocumentTime: true, CurrentTime: ts.Add(time.Minute), AllowDebugUnsafe: v.Debug}
			doc, err := Verify(v.data, opts)
			if err != nil {
				t.Fatalf("Verify at document time: %v (code %s)", err, ErrorCode(err))
			}
			checkFacts(t, &v, doc)

			// Debug documents are refused without the unsafe option.
			opts.AllowDebugUnsafe = false
			doc, err = Verify(v.data, opts)
			if v.Debug {
				if !errors.Is(err, ErrDebugMode) || doc != nil || ErrorCode(err) != "debug_mode" {
					t.Fatalf("debug document without AllowDebugUnsafe: doc %v, err %v", doc != nil, err)
				}
			} else if err != nil {
				t.Fatalf("non-debug document without AllowDebugUnsafe: %v", err)
			}

			// Today, every leaf has expired.
			doc, err = Verify(v.data, Options{CurrentTime: expired, AllowDebugUnsafe: true})
			var ve *ValidityError
			if doc != nil || !errors.Is(err, ErrCertificateExpired) || ErrorCode(err) != "certificate_expired" || !errors.As(err, &ve) {
				t.Fatalf("Verify at %s: doc %v, err %v", expired, doc != nil, err)
			}
			if ve.Position != "certificate" || !strings.Contains(err.Error(), "Options.AtDocumentTime") {
				t.Errorf("validity error %q: position %q, want the leaf and a hint", err, ve.Position)
			}

			// And so does a cached Verifier.
			vf := newVerifier(t, nil)
			for range 2 {
				if _, err := vf.Verify(v.data, opts.withDebug(v.Debug)); err != nil {
					t.Fatalf("Verifier: %v", err)
				}
			}
			if _, err := vf.Verify(v.data, Options{CurrentTime: expired, AllowDebugUnsafe: true}); !errors.Is(err, ErrCertificateExpired) {
				t.Fatalf("cached Verifier at %s: %v", expired, err)
			}
		})
	}
}

func (o Options) withDebug(d bool) Options { o.AllowDebugUnsafe = d; return o }

func checkFacts(t *testing.T, v *vectorFacts, doc *Document) {
	t.Helper()
	if doc.ModuleID != v.ModuleID {
		t.Errorf("ModuleID %q, want %q", doc.ModuleID, v.ModuleID)
	}
	if doc.Digest != "SHA384" || v.Digest != "SHA384" {
		t.Errorf("Digest %q", doc.Digest)
	}
	if !doc.Timestamp.Equal(time.UnixMilli(v.TimestampMS)) || doc.Timestamp.Location() != time.UTC {
		t.Errorf("Timestamp %v, want %d ms UTC", doc.Timestamp, v.TimestampMS)
	}
	if len(doc.PCRs) != v.PCRCount || len(v.PCRs) != v.PCRCount {
		t.Errorf("%d PCRs, want %d", len(doc.PCRs), v.PCRCount)
	}
	for _, p := range v.PCRs {
		got := doc.PCRs[p.Index]
		want := make([]byte, p.Len)
		if !p.AllZero {
			want, _ = hex.DecodeString(p.Hex)
		}
		if hex.EncodeToString(got) != hex.EncodeToString(want) {
			t.Errorf("PCR%d = %x, want %x", p.Index, got, want)
		}
	}
	if doc.Debug() != v.Debug {
		t.Errorf("Debug() = %v, want %v", doc.Debug(), v.Debug)
	}
	if len(doc.CABundle) != v.CABundleLen || doc.CABundle[0].Subject.CommonName != "aws.nitro-enclaves" {
		t.Errorf("CABundle: %d certificates", len(doc.CABundle))
	}
	if doc.Certificate.Subject.String() != v.Leaf.Subject {
		t.Errorf("leaf subject %q, want %q", doc.Certificate.Subject, v.Leaf.Subject)
	}
	for _, f := range []struct {
		name string
		got  []byte
		want userField
	}{{"public_key", doc.PublicKey, v.PublicKey}, {"user_data", doc.UserData, v.UserData}, {"nonce", doc.Nonce, v.Nonce}} {
		if f.want.Null != (f.got == nil) || len(f.got) != f.want.Len {
			t.Errorf("%s: nil %v len %d, want null %v len %d", f.name, f.got == nil, len(f.got), f.want.Null, f.want.Len)
		}
		if f.want.Hex != "" && hex.EncodeToString(f.got) != f.want.Hex {
			t.Errorf("%s = %x, want %s", f.name, f.got, f.want.Hex)
		}
	}
	if string(doc.Raw) != string(v.data) {
		t.Error("Raw differs from the input")
	}
}

func TestNitroTPMDocuments(t *testing.T) {
	vecs := loadVectors(t, "nitrotpm")
	if len(vecs) != 3 {
		t.Fatalf("got %d NitroTPM vectors, want 3", len(vecs))
	}
	for _, v := range vecs {
		t.Run(v.Name, func(t *testing.T) {
			doc, err := Verify(v.data, Options{AtDocumentTime: true, AllowDebugUnsafe: true})
			if doc != nil || !errors.Is(err, ErrNotEnclave) || ErrorCode(err) != "not_enclave" {
				t.Fatalf("Verify: doc %v, err %v", doc != nil, err)
			}
			if _, err := Parse(v.data); !errors.Is(err, ErrNotEnclave) {
				t.Fatalf("Parse: %v", err)
			}
		})
	}
}

func TestNegativeDocuments(t *testing.T) {
	want := map[string]string{
		"neg_2022-11-09_veracruz_bad_signature":    "bad_signature",
		"neg_2024-07-23_eternis_invalid_signature": "bad_signature",
		"neg_2026-01-03_base_fixture_truncated":    "malformed",
		"neg_blocky_selfsigned":                    "malformed", // empty cabundle (CDDL: at least one)
		"neg_marlin_custom_root":                   "untrusted_chain",
	}
	vecs := loadVectors(t, "negative")
	if len(vecs) != len(want) {
		t.Fatalf("got %d negative vectors, want %d", len(vecs), len(want))
	}
	for _, v := range vecs {
		t.Run(v.Name, func(t *testing.T) {
			code, ok := want[v.Name]
			if !ok {
				t.Fatalf("unexpected vector %s", v.Name)
			}
			opts := Options{AtDocumentTime: true, AllowDebugUnsafe: true}
			if v.TimestampMS > 0 {
				opts.CurrentTime = time.UnixMilli(v.TimestampMS).Add(time.Minute)
			}
			doc, err := Verify(v.data, opts)
			if doc != nil || ErrorCode(err) != code {
				t.Fatalf("Verify: doc %v, err %v (code %q), want %s", doc != nil, err, ErrorCode(err), code)
			}
			doc, err = newVerifier(t, nil).Verify(v.data, opts)
			if doc != nil || ErrorCode(err) != code {
				t.Fatalf("Verifier.Verify: doc %v, err %v, want %s", doc != nil, err, code)
			}
		})
	}
}

// TestVerifyRejectsBitFlips flips one bit at positions spread over a real
// document: every change is rejected with a code, and no document is
// returned.
func TestVerifyRejectsBitFlips(t *testing.T) {
	data := awsvectors.ReadFile(t, "attestation", "real", "2022-11-09_veracruz.cbor")
	opts := Options{AtDocumentTime: true, CurrentTime: time.Date(2022, 11, 10, 0, 0, 0, 0, time.UTC)}
	if _, err := Verify(data, opts); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, &VerifierConfig{CacheSize: -1}) // caching disabled
	codes := map[string]int{}
	for i := 0; i < len(data); i += 61 {
		m := bytes.Clone(data)
		m[i] ^= 1 << (i % 8)
		doc, err := Verify(m, opts)
		if doc != nil || ErrorCode(err) == "" {
			t.Fatalf("flip at %d: doc %v, err %v", i, doc != nil, err)
		}
		if vdoc, verr := v.Verify(m, opts); vdoc != nil || ErrorCode(verr) != ErrorCode(err) {
			t.Fatalf("flip at %d: Verifier says %v, Verify %v", i, verr, err)
		}
		codes[ErrorCode(err)]++
	}
	t.Logf("rejections by code: %v", codes)
	if codes["bad_signature"] == 0 || codes["malformed"] == 0 || codes["untrusted_chain"] == 0 {
		t.Errorf("expected signature, decoding and chain failures among %v", codes)
	}
}
