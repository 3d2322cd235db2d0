// SPDX-License-Identifier: Apache-2.0

package attestation

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
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

// TestNitroTPMDocuments: the real NitroTPM documents verify with the
// NitroTPM entry points at their own time, with the facts of their .json,
// and are refused by the enclave ones; real enclave documents are refused
// by the NitroTPM ones.
func TestNitroTPMDocuments(t *testing.T) {
	vecs := loadVectors(t, "nitrotpm")
	if len(vecs) != 3 {
		t.Fatalf("got %d NitroTPM vectors, want 3", len(vecs))
	}
	vf := newVerifier(t, nil)
	for _, v := range vecs {
		t.Run(v.Name, func(t *testing.T) {
			opts := Options{AtDocumentTime: true, CurrentTime: time.UnixMilli(v.TimestampMS).Add(time.Minute)}
			doc, err := VerifyNitroTPM(v.data, opts)
			if err != nil {
				t.Fatalf("VerifyNitroTPM: %v", err)
			}
			checkFacts(t, &v, (*Document)(doc))
			for range 2 { // cold, then warm
				d, err := vf.VerifyNitroTPM(v.data, opts)
				if err != nil || d.ModuleID != v.ModuleID {
					t.Fatalf("Verifier.VerifyNitroTPM: %v", err)
				}
			}
			p, err := ParseNitroTPM(v.data)
			if err != nil || p.ModuleID != v.ModuleID || len(p.PCRs) != v.PCRCount {
				t.Fatalf("ParseNitroTPM: %v", err)
			}
			// The enclave entry points refuse it, cached chain or not.
			for name, verify := range map[string]func([]byte, Options) (*Document, error){"Verify": Verify, "Verifier.Verify": vf.Verify} {
				doc, err := verify(v.data, opts)
				var ne *NotEnclaveError
				if doc != nil || !errors.Is(err, ErrNotEnclave) || ErrorCode(err) != "not_enclave" || !errors.As(err, &ne) || ne.Field != "nitrotpm_pcrs" {
					t.Fatalf("%s: doc %v, err %v", name, doc != nil, err)
				}
			}
			if _, err := Parse(v.data); !errors.Is(err, ErrNotEnclave) {
				t.Fatalf("Parse: %v", err)
			}
			// Policy, freshness and validity apply as for enclaves.
			pcr0 := bytes.Clone(doc.PCRs[0])
			pcr0[0] ^= 1
			for _, tc := range []struct {
				name string
				opts Options
				code string
			}{
				{"PCR policy", Options{AtDocumentTime: true, CurrentTime: opts.CurrentTime, PCRs: map[int][]byte{0: pcr0, 23: doc.PCRs[23]}}, "pcr_mismatch"},
				{"PCR policy, absent index", Options{AtDocumentTime: true, CurrentTime: opts.CurrentTime, PCRs: map[int][]byte{24: make([]byte, 48)}}, "pcr_mismatch"},
				{"nonce", Options{AtDocumentTime: true, CurrentTime: opts.CurrentTime, Nonce: []byte("other")}, "nonce_mismatch"},
				{"max age", Options{AtDocumentTime: true, CurrentTime: opts.CurrentTime.Add(time.Hour), MaxAge: time.Minute}, "too_old"},
				{"expired now", Options{CurrentTime: expired}, "certificate_expired"},
				{"from the future", Options{AtDocumentTime: true, CurrentTime: opts.CurrentTime.Add(-time.Hour)}, "from_future"},
			} {
				if d, err := VerifyNitroTPM(v.data, tc.opts); d != nil || ErrorCode(err) != tc.code {
					t.Errorf("%s: doc %v, err %v, want %s", tc.name, d != nil, err, tc.code)
				}
				if d, err := vf.VerifyNitroTPM(v.data, tc.opts); d != nil || ErrorCode(err) != tc.code {
					t.Errorf("%s (Verifier): doc %v, err %v, want %s", tc.name, d != nil, err, tc.code)
				}
			}
			if d, err := VerifyNitroTPM(v.data, Options{AtDocumentTime: true, CurrentTime: opts.CurrentTime,
				PCRs: map[int][]byte{0: doc.PCRs[0], 4: doc.PCRs[4], 11: make([]byte, 48)}}); err != nil || d == nil {
				t.Errorf("matching PCR policy: %v", err)
			}
			// The signature covers the payload.
			m := bytes.Clone(v.data)
			m[len(m)-10] ^= 0x01
			if d, err := VerifyNitroTPM(m, opts); d != nil || ErrorCode(err) != "bad_signature" {
				t.Errorf("flipped signature: %v", err)
			}
			// The AWS root only.
			if d, err := VerifyNitroTPM(v.data, Options{AtDocumentTime: true, CurrentTime: opts.CurrentTime,
				Roots: []*x509.Certificate{otherRoot(t)}}); d != nil || ErrorCode(err) != "untrusted_chain" {
				t.Errorf("another root: %v", err)
			}
		})
	}
	// Enclave documents are not NitroTPM documents.
	for _, v := range loadVectors(t, "real") {
		doc, err := VerifyNitroTPM(v.data, Options{AtDocumentTime: true})
		var ne *NotNitroTPMError
		if doc != nil || !errors.Is(err, ErrNotNitroTPM) || ErrorCode(err) != "not_nitrotpm" || !errors.As(err, &ne) || ne.Field != "pcrs" {
			t.Fatalf("%s: VerifyNitroTPM: doc %v, err %v", v.Name, doc != nil, err)
		}
		if d, err := vf.VerifyNitroTPM(v.data, Options{AtDocumentTime: true}); d != nil || ErrorCode(err) != "not_nitrotpm" {
			t.Fatalf("%s: Verifier.VerifyNitroTPM: %v", v.Name, err)
		}
		if _, err := ParseNitroTPM(v.data); !errors.Is(err, ErrNotNitroTPM) {
			t.Fatalf("%s: ParseNitroTPM: %v", v.Name, err)
		}
	}
}

// TestNitroTPMBitFlips: no single-bit change of a real NitroTPM document
// verifies, and every rejection has a code.
func TestNitroTPMBitFlips(t *testing.T) {
	v := loadVectors(t, "nitrotpm")[0]
	opts := Options{AtDocumentTime: true, CurrentTime: time.UnixMilli(v.TimestampMS).Add(time.Minute)}
	vf := newVerifier(t, &VerifierConfig{CacheSize: -1})
	codes := map[string]int{}
	for i := 0; i < len(v.data); i += 37 {
		m := bytes.Clone(v.data)
		m[i] ^= 1 << (i % 8)
		doc, err := VerifyNitroTPM(m, opts)
		if doc != nil {
			t.Fatalf("flip at %d verified", i)
		}
		code := ErrorCode(err)
		if code == "" {
			t.Fatalf("flip at %d: error without a code: %v", i, err)
		}
		if d, verr := vf.VerifyNitroTPM(m, opts); d != nil || ErrorCode(verr) != code {
			t.Fatalf("flip at %d: Verifier %v, VerifyNitroTPM %v", i, verr, err)
		}
		codes[code]++
	}
	if codes["malformed"] == 0 || codes["bad_signature"] == 0 {
		t.Errorf("codes %v: want malformed and bad_signature among them", codes)
	}
	t.Logf("codes: %v", codes)
}

// otherRoot is a self-signed P-384 root that signed nothing here.
func otherRoot(t *testing.T) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other root"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<33, 0), BasicConstraintsValid: true, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
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
