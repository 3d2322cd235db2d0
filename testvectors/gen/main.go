// SPDX-License-Identifier: Apache-2.0

// Command gen remakes the project's own attestation test vectors: a new
// emulated root (root.pem, no key kept), one document per case, and
// manifest.json saying what verifying each must give. Run it through
// `go generate ./testvectors`.
//
// Keys and ECDSA signatures are random, so every run changes the bytes of
// every file but nothing the manifest says about them.
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/nitroca"
	"github.com/fxamacker/cbor/v2"
)

var (
	// issued is when every chain starts (except deliberately shifted leaves).
	issued = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// docTime is the timestamp of the documents.
	docTime = issued.Add(10 * time.Minute)
	// verifyTime is the default verification time: 30 s after docTime.
	verifyTime = docTime.Add(30 * time.Second)
)

func main() {
	out := flag.String("out", ".", "directory to write the vectors into")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// manifest and vector mirror testvectors.Manifest and testvectors.Vector
// (which cannot be imported here: that package embeds the files this
// command makes). testvectors.Load rejects unknown fields, so a drift
// fails its test.
type manifest struct {
	Root    string   `json:"root"`
	Vectors []vector `json:"vectors"`
}

type vector struct {
	File           string            `json:"file"`
	Description    string            `json:"description"`
	Expect         string            `json:"expect"`
	Time           string            `json:"time"`
	AtDocumentTime bool              `json:"at_document_time,omitempty"`
	MaxAge         string            `json:"max_age,omitempty"`
	AllowDebug     bool              `json:"allow_debug,omitempty"`
	PCRs           map[string]string `json:"pcrs,omitempty"`
	Nonce          string            `json:"nonce,omitempty"`
	UserData       string            `json:"user_data,omitempty"`
	PublicKey      string            `json:"public_key,omitempty"`
}

type gen struct {
	out   string
	root  *nitroca.Root
	chain *nitroca.Chain
	m     manifest
	files map[string]bool
}

func run(out string) error {
	root, err := nitroca.NewRoot(rand.Reader, issued)
	if err != nil {
		return err
	}
	chain, err := root.IssueChain(rand.Reader, issued, nil)
	if err != nil {
		return err
	}
	g := &gen{out: out, root: root, chain: chain, m: manifest{Root: "root.pem"}, files: map[string]bool{}}
	if err := g.selfCheck(); err != nil {
		return err
	}
	if err := g.valid(); err != nil {
		return err
	}
	if err := g.invalid(); err != nil {
		return err
	}
	old, _ := filepath.Glob(filepath.Join(out, "*.cbor"))
	for _, f := range old {
		if !g.files[filepath.Base(f)] {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	if err := os.WriteFile(filepath.Join(out, "root.pem"), root.CertPEM(), 0o644); err != nil {
		return err
	}
	mb, err := json.MarshalIndent(&g.m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "manifest.json"), append(mb, '\n'), 0o644)
}

// add writes data as v.File and records v (Time defaults to verifyTime).
func (g *gen) add(v vector, data []byte) error {
	if v.Time == "" {
		v.Time = verifyTime.Format(time.RFC3339)
	}
	if g.files[v.File] {
		return fmt.Errorf("duplicate vector %s", v.File)
	}
	g.files[v.File] = true
	g.m.Vectors = append(g.m.Vectors, v)
	return os.WriteFile(filepath.Join(g.out, v.File), data, 0o644)
}

// pcrs returns 16 PCRs of 48 bytes as a production enclave has: PCR0-2
// (image), PCR3 (IAM role) and PCR4 (instance) set, the others zero.
func pcrs() map[int][]byte {
	m := map[int][]byte{}
	for i := range 16 {
		v := make([]byte, 48)
		if i <= 4 {
			h := sha512.Sum384([]byte("enclavekit test vector PCR" + strconv.Itoa(i)))
			v = h[:]
		}
		m[i] = v
	}
	return m
}

func (g *gen) doc(mods ...func(*attestation.Document)) *attestation.Document {
	d := &attestation.Document{ModuleID: g.chain.ModuleID, Digest: "SHA384", Timestamp: docTime, PCRs: pcrs()}
	for _, m := range mods {
		m(d)
	}
	return d
}

func (g *gen) sign(s *attestation.Signer, d *attestation.Document) ([]byte, error) {
	return s.Sign(d, rand.Reader)
}

// kv is one payload map entry; val is encoded by fxamacker/cbor (a
// cbor.RawMessage is written as is).
type kv struct {
	key string
	val any
}

// fields returns the payload entries of d signed by c, in AWS's order.
func fields(c *nitroca.Chain, d *attestation.Document) ([]kv, error) {
	em, err := cbor.EncOptions{Sort: cbor.SortCanonical}.EncMode()
	if err != nil {
		return nil, err
	}
	pm, err := em.Marshal(d.PCRs) // canonical order = ascending index for 0..31
	if err != nil {
		return nil, err
	}
	bundle := [][]byte{c.Root.Raw, c.Regional.Raw, c.Zonal.Raw, c.Instance.Raw}
	null := func(b []byte) any {
		if b == nil {
			return nil
		}
		return b
	}
	return []kv{
		{"module_id", d.ModuleID}, {"digest", d.Digest}, {"timestamp", uint64(d.Timestamp.UnixMilli())},
		{"pcrs", cbor.RawMessage(pm)}, {"certificate", c.Leaf.Raw}, {"cabundle", bundle},
		{"public_key", null(d.PublicKey)}, {"user_data", null(d.UserData)}, {"nonce", null(d.Nonce)},
	}, nil
}

// payload encodes entries as an indefinite-length map (AWS since 2025).
func payload(entries []kv) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte(0xbf)
	for _, e := range entries {
		for _, x := range []any{e.key, e.val} {
			enc, err := cbor.Marshal(x)
			if err != nil {
				return nil, err
			}
			b.Write(enc)
		}
	}
	b.WriteByte(0xff)
	return b.Bytes(), nil
}

// coseES384 returns the payload as a whole COSE_Sign1 from a Signer: used
// to take the payload back out of a signed document.
func payloadOf(doc []byte) ([]byte, error) {
	var msg []cbor.RawMessage
	if err := cbor.Unmarshal(doc, &msg); err != nil || len(msg) != 4 {
		return nil, fmt.Errorf("not a COSE_Sign1: %v", err)
	}
	var p []byte
	err := cbor.Unmarshal(msg[2], &p)
	return p, err
}

// selfCheck makes sure the hand-built payloads used for the structural
// cases are byte-identical to the Signer's, so each case differs from a
// valid document only where intended.
func (g *gen) selfCheck() error {
	d := g.doc(func(d *attestation.Document) { d.UserData = []byte{} })
	signed, err := g.sign(g.chain.Signer(), d)
	if err != nil {
		return err
	}
	want, err := payloadOf(signed)
	if err != nil {
		return err
	}
	f, err := fields(g.chain, d)
	if err != nil {
		return err
	}
	got, err := payload(f)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return errors.New("self-check: hand-built payload differs from attestation.Signer's")
	}
	return nil
}

func fill(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

func (g *gen) valid() error {
	s := g.chain.Signer()
	type tc struct {
		file, desc string
		signer     func(*attestation.Signer)
		mod        func(*attestation.Document)
		v          vector
	}
	sets := fill(1024, 0xa5)
	cases := []tc{
		{file: "valid_indefinite.cbor", desc: "AWS's layout since 2025: indefinite-length payload map, null optional fields"},
		{file: "valid_definite.cbor", desc: "definite-length payload map (0xa9), AWS's layout until 2025",
			signer: func(s *attestation.Signer) { s.Definite = true }},
		{file: "valid_tag18.cbor", desc: "COSE_Sign1 wrapped in tag 18 (AWS never does; allowed)",
			signer: func(s *attestation.Signer) { s.Tag18 = true }},
		{file: "valid_1024_fields.cbor", desc: "public_key, user_data and nonce of 1024 bytes each (the limit)",
			mod: func(d *attestation.Document) { d.PublicKey, d.UserData, d.Nonce = sets, sets, sets }},
		{file: "valid_17_pcrs.cbor", desc: "17 PCRs: an application extended PCR16",
			mod: func(d *attestation.Document) { d.PCRs[16] = fill(48, 0x16) }},
		{file: "valid_empty_fields.cbor", desc: "public_key, user_data and nonce present but zero-length",
			mod: func(d *attestation.Document) { d.PublicKey, d.UserData, d.Nonce = []byte{}, []byte{}, []byte{} }},
		{file: "valid_expected_values.cbor", desc: "nonce, user data, public key and PCR0-2 as expected",
			mod: func(d *attestation.Document) {
				d.Nonce, d.UserData, d.PublicKey = []byte("nonce-0123456789"), []byte("user data"), []byte("public key")
			},
			v: vector{Nonce: hex.EncodeToString([]byte("nonce-0123456789")),
				UserData: hex.EncodeToString([]byte("user data")), PublicKey: hex.EncodeToString([]byte("public key")),
				PCRs: map[string]string{"0": hex.EncodeToString(pcrs()[0]), "1": hex.EncodeToString(pcrs()[1]),
					"2": hex.EncodeToString(pcrs()[2])}}},
		{file: "valid_debug_allowed.cbor", desc: "debug mode (PCR0-2 zero) with the unsafe debug option",
			mod: debugMode, v: vector{AllowDebug: true}},
		{file: "valid_at_document_time.cbor", desc: "verified 30 days later at its own timestamp (stored document)",
			v: vector{AtDocumentTime: true, Time: issued.Add(30 * 24 * time.Hour).Format(time.RFC3339)}},
		{file: "valid_max_age.cbor", desc: "30 s old with a 5-minute age limit",
			v: vector{MaxAge: "5m"}},
	}
	for _, c := range cases {
		sc := *s
		if c.signer != nil {
			c.signer(&sc)
		}
		d := g.doc()
		if c.mod != nil {
			c.mod(d)
		}
		b, err := g.sign(&sc, d)
		if err != nil {
			return err
		}
		v := c.v
		v.File, v.Description, v.Expect = c.file, c.desc, "valid"
		if err := g.add(v, b); err != nil {
			return err
		}
	}
	b, err := g.signFields(func(f []kv) []kv { return f[:6] })
	if err != nil {
		return err
	}
	return g.add(vector{File: "valid_absent_optional.cbor", Expect: "valid",
		Description: "public_key, user_data and nonce keys left out (optional in AWS's CDDL)"}, b)
}

func debugMode(d *attestation.Document) {
	for i := range 3 {
		d.PCRs[i] = make([]byte, 48)
	}
}

// signFields signs hand-built payload entries with the main chain's leaf.
func (g *gen) signFields(edit func([]kv) []kv, mods ...func(*attestation.Document)) ([]byte, error) {
	f, err := fields(g.chain, g.doc(mods...))
	if err != nil {
		return nil, err
	}
	p, err := payload(edit(f))
	if err != nil {
		return nil, err
	}
	return g.chain.Signer().SignPayload(p, rand.Reader)
}

var es384 = []byte{0xa1, 0x01, 0x38, 0x22}

// payloadBytes is the payload of the default document of the main chain.
func (g *gen) payloadBytes() ([]byte, error) {
	f, err := fields(g.chain, g.doc())
	if err != nil {
		return nil, err
	}
	return payload(f)
}

// coseRaw signs payload under an arbitrary protected header with key (any
// curve, SHA-384) and writes the signature field as sigLen bytes: r and s
// each left-padded, or cut to sigLen/2 bytes (a garbage signature), for
// cases a verifier must reject before checking the signature.
func coseRaw(key *ecdsa.PrivateKey, protected, payload []byte, sigLen int) ([]byte, error) {
	tbs, err := cbor.Marshal([]any{"Signature1", protected, []byte{}, payload})
	if err != nil {
		return nil, err
	}
	h := sha512.Sum384(tbs)
	r, s, err := ecdsa.Sign(rand.Reader, key, h[:])
	if err != nil {
		return nil, err
	}
	half := sigLen / 2
	size := (key.Curve.Params().BitSize + 7) / 8
	sig := make([]byte, sigLen)
	put := func(dst []byte, n *big.Int) {
		b := n.FillBytes(make([]byte, size))
		if len(b) > len(dst) {
			b = b[:len(dst)]
		}
		copy(dst[len(dst)-len(b):], b)
	}
	put(sig[:half], r)
	put(sig[half:], s)
	return cbor.Marshal([]any{protected, cbor.RawMessage{0xa0}, payload, sig})
}

func (g *gen) invalid() error {
	type tc struct {
		file, code, desc string
		make             func() ([]byte, error)
		v                vector
	}
	base := func(mods ...func(*attestation.Document)) func() ([]byte, error) {
		return func() ([]byte, error) { return g.sign(g.chain.Signer(), g.doc(mods...)) }
	}
	withChain := func(r *nitroca.Root, o *nitroca.Options) func() ([]byte, error) {
		return func() ([]byte, error) {
			c, err := r.IssueChain(rand.Reader, issued, o)
			if err != nil {
				return nil, err
			}
			return g.sign(c.Signer(), g.doc(func(d *attestation.Document) { d.ModuleID = c.ModuleID }))
		}
	}
	edit := func(e func([]kv) []kv) func() ([]byte, error) {
		return func() ([]byte, error) { return g.signFields(e) }
	}
	mutate := func(m func([]byte) []byte) func() ([]byte, error) {
		return func() ([]byte, error) {
			b, err := base()()
			if err != nil {
				return nil, err
			}
			return m(b), nil
		}
	}
	foreignLeaf := func(curve elliptic.Curve) func() ([]byte, error) {
		return func() ([]byte, error) {
			c, err := g.root.IssueChain(rand.Reader, issued, &nitroca.Options{LeafCurve: curve})
			if err != nil {
				return nil, err
			}
			f, err := fields(c, g.doc(func(d *attestation.Document) { d.ModuleID = c.ModuleID }))
			if err != nil {
				return nil, err
			}
			p, err := payload(f)
			if err != nil {
				return nil, err
			}
			return coseRaw(c.LeafKey, es384, p, 96)
		}
	}
	other, err := nitroca.NewRoot(rand.Reader, issued)
	if err != nil {
		return err
	}
	cases := []tc{
		// Algorithms and keys.
		{"invalid_leaf_p521.cbor", "unsupported_algorithm", "leaf key on P-521 (signature field 96 bytes as ES384's: the key check comes first)",
			foreignLeaf(elliptic.P521()), vector{}},
		{"invalid_leaf_p256.cbor", "unsupported_algorithm", "leaf key on P-256, its signature zero-padded to 96 bytes",
			foreignLeaf(elliptic.P256()), vector{}},
		{"invalid_signature_length.cbor", "malformed", "signature of 95 bytes", func() ([]byte, error) {
			p, err := g.payloadBytes()
			if err != nil {
				return nil, err
			}
			return coseRaw(g.chain.LeafKey, es384, p, 95)
		}, vector{}},
		{"invalid_alg_es256.cbor", "unsupported_algorithm", "protected header {1: -7} (ES256) instead of ES384", func() ([]byte, error) {
			p, err := g.payloadBytes()
			if err != nil {
				return nil, err
			}
			return coseRaw(g.chain.LeafKey, []byte{0xa1, 0x01, 0x26}, p, 96)
		}, vector{}},
		// Chain.
		{"invalid_leaf_not_yet_valid.cbor", "certificate_not_yet_valid", "leaf valid only from 1 h after the document",
			withChain(g.root, &nitroca.Options{LeafNotBefore: docTime.Add(time.Hour)}), vector{}},
		{"invalid_leaf_expired.cbor", "certificate_expired", "leaf valid only until 1 h before the document",
			withChain(g.root, &nitroca.Options{LeafNotBefore: docTime.Add(-4 * time.Hour)}), vector{}},
		{"invalid_expired_now.cbor", "certificate_expired", "a valid document verified 2 days later at that time (not at document time)",
			base(), vector{Time: issued.Add(48 * time.Hour).Format(time.RFC3339)}},
		{"invalid_instance_not_ca.cbor", "untrusted_chain", "instance CA without CA basic constraints",
			withChain(g.root, &nitroca.Options{InstanceNotCA: true}), vector{}},
		{"invalid_untrusted_root.cbor", "untrusted_chain", "chain to another emulated root than root.pem",
			withChain(other, nil), vector{}},
		{"invalid_empty_cabundle.cbor", "malformed", "cabundle is an empty array", func() ([]byte, error) {
			s := g.chain.Signer()
			s.CABundle = nil
			return g.sign(s, g.doc())
		}, vector{}},
		// Structure.
		{"invalid_duplicate_key.cbor", "malformed", "user_data appears twice", edit(func(f []kv) []kv {
			return slices.Insert(f, 8, kv{"user_data", nil})
		}), vector{}},
		{"invalid_unknown_key.cbor", "malformed", "an extra key \"extra\"", edit(func(f []kv) []kv {
			return append(f, kv{"extra", []byte{1}})
		}), vector{}},
		{"invalid_case_variant_key.cbor", "malformed", "key \"Nonce\" instead of \"nonce\"", edit(func(f []kv) []kv {
			f[8].key = "Nonce"
			return f
		}), vector{}},
		{"invalid_missing_key.cbor", "malformed", "no digest key (mandatory)", edit(func(f []kv) []kv {
			return slices.Delete(f, 1, 2)
		}), vector{}},
		{"invalid_timestamp_type.cbor", "malformed", "timestamp as a text string", edit(func(f []kv) []kv {
			f[2].val = docTime.Format(time.RFC3339)
			return f
		}), vector{}},
		{"invalid_pcr_47_bytes.cbor", "malformed", "PCR5 of 47 bytes", base(func(d *attestation.Document) {
			d.PCRs[5] = make([]byte, 47)
		}), vector{}},
		{"invalid_pcr_index_32.cbor", "malformed", "PCR index 32", base(func(d *attestation.Document) {
			d.PCRs[32] = make([]byte, 48)
		}), vector{}},
		{"invalid_digest_sha256.cbor", "malformed", "digest \"SHA256\"", base(func(d *attestation.Document) {
			d.Digest = "SHA256"
		}), vector{}},
		{"invalid_trailing_byte.cbor", "malformed", "a zero byte after the COSE_Sign1", mutate(func(b []byte) []byte {
			return append(b, 0)
		}), vector{}},
		{"invalid_tag_98.cbor", "malformed", "COSE_Sign1 wrapped in tag 98 (COSE_Sign)", mutate(func(b []byte) []byte {
			return append([]byte{0xd8, 0x62}, b...)
		}), vector{}},
		{"invalid_tag_24.cbor", "malformed", "COSE_Sign1 wrapped in tag 24 (encoded CBOR)", mutate(func(b []byte) []byte {
			return append([]byte{0xd8, 0x18}, b...)
		}), vector{}},
		{"invalid_unprotected_header.cbor", "malformed", "unprotected header {4: h''} instead of {}", mutate(func(b []byte) []byte {
			// 84 44 a1013822 | a0 -> a1 04 40
			return slices.Concat(b[:6], []byte{0xa1, 0x04, 0x40}, b[7:])
		}), vector{}},
		{"invalid_truncated.cbor", "malformed", "the first half of a valid document", mutate(func(b []byte) []byte {
			return b[:len(b)/2]
		}), vector{}},
		// Signature.
		{"invalid_bad_signature.cbor", "bad_signature", "one bit of the signature flipped", mutate(func(b []byte) []byte {
			b[len(b)-10] ^= 0x01
			return b
		}), vector{}},
		{"invalid_payload_modified.cbor", "bad_signature", "module_id changed after signing", mutate(func(b []byte) []byte {
			i := bytes.Index(b, []byte(g.chain.ModuleID))
			b[i] = 'j' // "i-…" -> "j-…", same length
			return b
		}), vector{}},
		// Policy.
		{"invalid_debug_mode.cbor", "debug_mode", "debug mode (PCR0-2 zero) without the unsafe option", base(debugMode), vector{}},
		{"invalid_nonce_mismatch.cbor", "nonce_mismatch", "nonce differs from the expected one", base(func(d *attestation.Document) {
			d.Nonce = []byte("nonce-a")
		}), vector{Nonce: hex.EncodeToString([]byte("nonce-b"))}},
		{"invalid_nonce_absent.cbor", "nonce_mismatch", "null nonce when one is expected", base(),
			vector{Nonce: hex.EncodeToString([]byte("nonce-b"))}},
		{"invalid_user_data_mismatch.cbor", "user_data_mismatch", "user data differs", base(func(d *attestation.Document) {
			d.UserData = []byte("user data a")
		}), vector{UserData: hex.EncodeToString([]byte("user data b"))}},
		{"invalid_public_key_mismatch.cbor", "public_key_mismatch", "public key differs", base(func(d *attestation.Document) {
			d.PublicKey = []byte("key a")
		}), vector{PublicKey: hex.EncodeToString([]byte("key b"))}},
		{"invalid_pcr_mismatch.cbor", "pcr_mismatch", "PCR0 and PCR2 differ from the expected values, PCR1 matches",
			base(), vector{PCRs: map[string]string{
				"0": hex.EncodeToString(fill(48, 0xaa)), "1": hex.EncodeToString(pcrs()[1]), "2": hex.EncodeToString(fill(48, 0xbb))}}},
		{"invalid_pcr_absent.cbor", "pcr_mismatch", "PCR16 expected but the document has 16 PCRs (0-15)",
			base(), vector{PCRs: map[string]string{"16": hex.EncodeToString(fill(48, 0x16))}}},
		{"invalid_too_old.cbor", "too_old", "10 minutes old with a 5-minute age limit",
			base(), vector{MaxAge: "5m", Time: docTime.Add(10 * time.Minute).Format(time.RFC3339)}},
		{"invalid_from_future.cbor", "from_future", "timestamp 1 h after the verification time (certificates valid)",
			base(func(d *attestation.Document) { d.Timestamp = verifyTime.Add(time.Hour) }), vector{}},
		{"invalid_nitrotpm.cbor", "not_enclave", "NitroTPM shape: nitrotpm_pcrs (24 PCRs) instead of pcrs", edit(func(f []kv) []kv {
			m := map[int][]byte{}
			for i := range 24 {
				m[i] = fill(48, byte(i+1))
			}
			em, _ := cbor.EncOptions{Sort: cbor.SortCanonical}.EncMode()
			pm, _ := em.Marshal(m)
			f[3] = kv{"nitrotpm_pcrs", cbor.RawMessage(pm)}
			return f
		}), vector{}},
	}
	for _, c := range cases {
		b, err := c.make()
		if err != nil {
			return fmt.Errorf("%s: %w", c.file, err)
		}
		v := c.v
		v.File, v.Description, v.Expect = c.file, c.desc, c.code
		if err := g.add(v, b); err != nil {
			return err
		}
	}
	return nil
}
