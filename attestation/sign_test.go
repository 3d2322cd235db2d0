// SPDX-License-Identifier: Apache-2.0

package attestation_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/awsvectors"
	"github.com/enclavekit/enclavekit/internal/nitroca"
	"github.com/fxamacker/cbor/v2"
)

// cborItem is one data item of a CBOR byte string as the tests see it: the
// exact head bytes, and for byte and text strings their content.
type cborItem struct {
	major   byte
	indef   bool
	head    []byte // the initial byte and argument, exactly as encoded
	arg     uint64
	content []byte // strings only
	kids    []cborItem
	tag     uint64
}

// readItem parses one item strictly enough for layout comparisons.
func readItem(b []byte) (cborItem, []byte, error) {
	if len(b) == 0 {
		return cborItem{}, nil, fmt.Errorf("unexpected end")
	}
	it := cborItem{major: b[0] >> 5}
	ai := b[0] & 31
	n := 1
	switch {
	case ai < 24:
		it.arg = uint64(ai)
	case ai == 24 || ai == 25 || ai == 26 || ai == 27:
		n += 1 << (ai - 24)
		if len(b) < n {
			return it, nil, fmt.Errorf("short head")
		}
		var buf [8]byte
		copy(buf[8-(n-1):], b[1:n])
		it.arg = binary.BigEndian.Uint64(buf[:])
	case ai == 31:
		it.indef = true
	default:
		return it, nil, fmt.Errorf("reserved additional info %d", ai)
	}
	it.head, b = b[:n], b[n:]
	switch it.major {
	case 2, 3:
		if it.indef || uint64(len(b)) < it.arg {
			return it, nil, fmt.Errorf("bad string")
		}
		it.content, b = b[:it.arg], b[it.arg:]
	case 4, 5:
		per := 1
		if it.major == 5 {
			per = 2
		}
		for i := 0; it.indef || uint64(i) < it.arg*uint64(per); i++ {
			if it.indef && len(b) > 0 && b[0] == 0xff {
				b = b[1:]
				break
			}
			var k cborItem
			var err error
			if k, b, err = readItem(b); err != nil {
				return it, nil, err
			}
			it.kids = append(it.kids, k)
		}
	case 6:
		it.tag = it.arg
		k, rest, err := readItem(b)
		if err != nil {
			return it, nil, err
		}
		it.kids, b = []cborItem{k}, rest
	}
	return it, b, nil
}

func mustItem(t *testing.T, b []byte) cborItem {
	t.Helper()
	it, rest, err := readItem(b)
	if err != nil || len(rest) != 0 {
		t.Fatalf("cbor: %v (%d trailing bytes)", err, len(rest))
	}
	return it
}

// layout describes a payload map: every head exactly, every content byte
// exactly, except the certificates' DER (different chains), which are
// described by their major type only.
func layout(t *testing.T, payload []byte) []string {
	t.Helper()
	m := mustItem(t, payload)
	var out []string
	var walk func(it cborItem, masked bool)
	walk = func(it cborItem, masked bool) {
		if masked && it.major == 2 {
			out = append(out, "bstr(DER)")
			return
		}
		s := fmt.Sprintf("%x", it.head)
		if it.content != nil {
			s += " " + fmt.Sprintf("%x", it.content)
		}
		out = append(out, s)
		for _, k := range it.kids {
			walk(k, masked)
		}
		if it.indef {
			out = append(out, "ff")
		}
	}
	out = append(out, fmt.Sprintf("%x", m.head))
	for i := 0; i+1 < len(m.kids); i += 2 {
		key := string(m.kids[i].content)
		walk(m.kids[i], false)
		walk(m.kids[i+1], key == "certificate" || key == "cabundle")
	}
	if m.indef {
		out = append(out, "ff")
	}
	return out
}

// realFields reads the fields a Signer uses out of a real document with a
// plain CBOR decode (independent of the attestation package's parser).
func realFields(t *testing.T, data []byte) (*attestation.Document, bool) {
	t.Helper()
	var msg struct {
		_           struct{} `cbor:",toarray"`
		Protected   []byte
		Unprotected cbor.RawMessage
		Payload     []byte
		Signature   []byte
	}
	if err := cbor.Unmarshal(data, &msg); err != nil {
		t.Fatal(err)
	}
	var p struct {
		ModuleID  string         `cbor:"module_id"`
		Digest    string         `cbor:"digest"`
		Timestamp uint64         `cbor:"timestamp"`
		PCRs      map[int][]byte `cbor:"pcrs"`
		PublicKey []byte         `cbor:"public_key"`
		UserData  []byte         `cbor:"user_data"`
		Nonce     []byte         `cbor:"nonce"`
	}
	if err := cbor.Unmarshal(msg.Payload, &p); err != nil {
		t.Fatal(err)
	}
	return &attestation.Document{
		ModuleID: p.ModuleID, Digest: p.Digest, Timestamp: time.UnixMilli(int64(p.Timestamp)).UTC(),
		PCRs: p.PCRs, PublicKey: p.PublicKey, UserData: p.UserData, Nonce: p.Nonce,
	}, msg.Payload[0] == 0xa9
}

func newChain(t *testing.T, at time.Time) *nitroca.Chain {
	t.Helper()
	c, err := nitroca.NewChain(rand.Reader, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSignMatchesRealLayout re-signs the content of every real AWS
// document with an emulated chain and checks that the result has the same
// bytes everywhere except the certificates: same envelope, key order, map
// and string heads, null versus empty fields, integer widths.
func TestSignMatchesRealLayout(t *testing.T) {
	dir := awsvectors.Path(t, "attestation", "real")
	files, err := filepath.Glob(filepath.Join(dir, "*.cbor"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no real documents in %s: %v", dir, err)
	}
	var sawDefinite, sawIndefinite bool
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".cbor"), func(t *testing.T) {
			real, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			doc, definite := realFields(t, real)
			sawDefinite = sawDefinite || definite
			sawIndefinite = sawIndefinite || !definite
			c := newChain(t, doc.Timestamp.Add(-time.Minute))
			s := c.Signer()
			s.Definite = definite
			mine, err := s.Sign(doc, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			r, m := mustItem(t, real), mustItem(t, mine)
			if !bytes.Equal(r.head, m.head) || len(m.kids) != 4 {
				t.Fatalf("envelope head %x, want %x", m.head, r.head)
			}
			for i, name := range []string{"protected", "unprotected", "payload", "signature"} {
				if !bytes.Equal(r.kids[i].head[:1], m.kids[i].head[:1]) {
					t.Errorf("%s: head %x, want %x", name, m.kids[i].head, r.kids[i].head)
				}
			}
			if !bytes.Equal(m.kids[0].content, []byte{0xa1, 0x01, 0x38, 0x22}) || !bytes.Equal(m.kids[0].content, r.kids[0].content) {
				t.Errorf("protected header %x", m.kids[0].content)
			}
			if !bytes.Equal(m.kids[1].head, []byte{0xa0}) || len(m.kids[1].kids) != 0 {
				t.Errorf("unprotected header %x", m.kids[1].head)
			}
			if len(m.kids[3].content) != 96 || !bytes.Equal(m.kids[3].head, r.kids[3].head) {
				t.Errorf("signature head %x, %d bytes", m.kids[3].head, len(m.kids[3].content))
			}
			rl, ml := layout(t, r.kids[2].content), layout(t, m.kids[2].content)
			if strings.Join(rl, "\n") != strings.Join(ml, "\n") {
				for i := range max(len(rl), len(ml)) {
					var a, b string
					if i < len(rl) {
						a = rl[i]
					}
					if i < len(ml) {
						b = ml[i]
					}
					if a != b {
						t.Fatalf("payload item %d differs:\n got %.120s\nwant %.120s", i, b, a)
					}
				}
			}
			checkSignature(t, mine, c.Leaf)
		})
	}
	if !sawDefinite || !sawIndefinite {
		t.Errorf("real documents cover definite=%v indefinite=%v; want both", sawDefinite, sawIndefinite)
	}
}

// checkSignature verifies the COSE signature of data independently of the
// attestation package: Sig_structure built by fxamacker/cbor, SHA-384,
// r||s split in halves.
func checkSignature(t *testing.T, data []byte, leaf *x509.Certificate) {
	t.Helper()
	it := mustItem(t, data)
	if it.major == 6 {
		it = it.kids[0]
	}
	tbs, err := cbor.Marshal([]any{"Signature1", it.kids[0].content, []byte{}, it.kids[2].content})
	if err != nil {
		t.Fatal(err)
	}
	h := sha512.Sum384(tbs)
	sig := it.kids[3].content
	pub := leaf.PublicKey.(*ecdsa.PublicKey)
	size := (pub.Curve.Params().BitSize + 7) / 8
	if len(sig) != 2*size {
		t.Fatalf("signature is %d bytes, want %d", len(sig), 2*size)
	}
	r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
	if !ecdsa.Verify(pub, h[:], r, s) {
		t.Fatal("signature does not verify")
	}
}

func TestSignEncodings(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	c := newChain(t, now)
	pcrs := map[int][]byte{}
	for i := 16; i >= 0; i-- { // inserted in descending order on purpose
		pcrs[i] = bytes.Repeat([]byte{byte(i)}, 48)
	}
	doc := &attestation.Document{ModuleID: c.ModuleID, Timestamp: now.Add(1500 * time.Millisecond), PCRs: pcrs,
		UserData: []byte{}, Nonce: nil, PublicKey: []byte{1, 2, 3}}

	for _, tc := range []struct {
		name          string
		definite, tag bool
	}{{"indefinite", false, false}, {"definite", true, false}, {"tag18", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := c.Signer()
			s.Definite, s.Tag18 = tc.definite, tc.tag
			out, err := s.Sign(doc, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			it := mustItem(t, out)
			if tc.tag {
				if !bytes.Equal(it.head, []byte{0xd2}) {
					t.Fatalf("head %x, want d2", it.head)
				}
				it = it.kids[0]
			}
			if !bytes.Equal(it.head, []byte{0x84}) {
				t.Fatalf("COSE head %x", it.head)
			}
			p := mustItem(t, it.kids[2].content)
			wantHead := []byte{0xbf}
			if tc.definite {
				wantHead = []byte{0xa9}
			}
			if !bytes.Equal(p.head, wantHead) || p.indef == tc.definite || len(p.kids) != 18 {
				t.Fatalf("payload head %x with %d items", p.head, len(p.kids))
			}
			var keys []string
			vals := map[string]cborItem{}
			for i := 0; i < len(p.kids); i += 2 {
				k := string(p.kids[i].content)
				keys = append(keys, k)
				vals[k] = p.kids[i+1]
			}
			if got := strings.Join(keys, ","); got != "module_id,digest,timestamp,pcrs,certificate,cabundle,public_key,user_data,nonce" {
				t.Fatalf("key order %s", got)
			}
			if v := vals["digest"]; string(v.content) != "SHA384" {
				t.Errorf("digest %q", v.content)
			}
			if v := vals["timestamp"]; v.major != 0 || v.arg != uint64(now.UnixMilli()+1500) {
				t.Errorf("timestamp major %d value %d", v.major, v.arg)
			}
			pm := vals["pcrs"]
			if pm.indef || !bytes.Equal(pm.head, []byte{0xb1}) {
				t.Errorf("pcrs head %x", pm.head)
			}
			for i := 0; i < len(pm.kids); i += 2 {
				if pm.kids[i].major != 0 || pm.kids[i].arg != uint64(i/2) || len(pm.kids[i+1].content) != 48 {
					t.Errorf("pcr entry %d: index %d, %d bytes", i/2, pm.kids[i].arg, len(pm.kids[i+1].content))
				}
			}
			if v := vals["certificate"]; !bytes.Equal(v.content, c.Leaf.Raw) {
				t.Error("certificate is not the leaf")
			}
			cab := vals["cabundle"]
			if !bytes.Equal(cab.head, []byte{0x84}) || !bytes.Equal(cab.kids[0].content, c.Root.Raw) ||
				!bytes.Equal(cab.kids[3].content, c.Instance.Raw) {
				t.Error("cabundle is not [root, regional, zonal, instance]")
			}
			if v := vals["public_key"]; !bytes.Equal(v.head, []byte{0x43}) {
				t.Errorf("public_key head %x", v.head)
			}
			if v := vals["user_data"]; !bytes.Equal(v.head, []byte{0x40}) {
				t.Errorf("empty user_data head %x, want 40", v.head)
			}
			if v := vals["nonce"]; !bytes.Equal(v.head, []byte{0xf6}) {
				t.Errorf("nil nonce head %x, want f6 (null)", v.head)
			}
			checkSignature(t, out, c.Leaf)
		})
	}
}

func TestSignPayloadAndCurves(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	root, err := nitroca.NewRoot(rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		c, err := root.IssueChain(rand.Reader, now, &nitroca.Options{LeafCurve: curve})
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.Signer().SignPayload([]byte("not a map"), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		it := mustItem(t, out)
		if string(it.kids[2].content) != "not a map" {
			t.Errorf("payload %q", it.kids[2].content)
		}
		checkSignature(t, out, c.Leaf) // r||s sized for the curve
	}
}

func TestSignErrors(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	c := newChain(t, now)
	if _, err := (&attestation.Signer{}).SignPayload(nil, rand.Reader); err == nil {
		t.Error("signer without key signed")
	}
	if _, err := (&attestation.Signer{Key: c.LeafKey}).Sign(&attestation.Document{Timestamp: now}, rand.Reader); err == nil {
		t.Error("signer without certificate signed")
	}
	if _, err := c.Signer().Sign(&attestation.Document{Timestamp: time.Unix(-1, 0)}, rand.Reader); err == nil {
		t.Error("timestamp before 1970 signed")
	}
	if _, err := c.Signer().Sign(nil, rand.Reader); err == nil {
		t.Error("nil document signed")
	}
}

// TestSignVerifies checks that Parse and Verify accept the Signer's output
// in every layout and give back exactly what was signed.
func TestSignVerifies(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	c := newChain(t, now)
	pcrs := map[int][]byte{}
	for i := range 16 {
		pcrs[i] = bytes.Repeat([]byte{byte(i + 1)}, 48)
	}
	want := &attestation.Document{ModuleID: c.ModuleID, Digest: "SHA384", Timestamp: now.Add(1234 * time.Millisecond),
		PCRs: pcrs, PublicKey: []byte("pk"), UserData: []byte{}, Nonce: nil}
	for _, tc := range []struct {
		name          string
		definite, tag bool
	}{{"indefinite", false, false}, {"definite", true, false}, {"tag18", false, true}, {"definite_tag18", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := c.Signer()
			s.Definite, s.Tag18 = tc.definite, tc.tag
			raw, err := s.Sign(want, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			got, err := attestation.Verify(raw, attestation.Options{Roots: c.Roots(), CurrentTime: now.Add(time.Minute),
				PCRs: pcrs, PublicKey: []byte("pk"), UserData: []byte{}})
			if err != nil {
				t.Fatalf("Verify: %v (code %s)", err, attestation.ErrorCode(err))
			}
			if got.ModuleID != want.ModuleID || got.Digest != "SHA384" || !got.Timestamp.Equal(want.Timestamp) ||
				len(got.PCRs) != 16 || !bytes.Equal(got.PublicKey, want.PublicKey) ||
				got.UserData == nil || len(got.UserData) != 0 || got.Nonce != nil || !bytes.Equal(got.Raw, raw) ||
				!got.Certificate.Equal(c.Leaf) || len(got.CABundle) != 4 || !got.CABundle[0].Equal(c.Root) {
				t.Errorf("Verify returned %+v", got)
			}
			for i, v := range pcrs {
				if !bytes.Equal(got.PCRs[i], v) {
					t.Errorf("PCR%d = %x", i, got.PCRs[i])
				}
			}
			if _, err := attestation.Parse(raw); err != nil {
				t.Errorf("Parse: %v", err)
			}
		})
	}
	// The empty-digest default is SHA384.
	raw, err := c.Signer().Sign(&attestation.Document{ModuleID: "m", Timestamp: now, PCRs: pcrs}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := attestation.Parse(raw); err != nil || d.Digest != "SHA384" {
		t.Errorf("default digest: %v %v", d, err)
	}
}
