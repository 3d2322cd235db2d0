// SPDX-License-Identifier: Apache-2.0

package emulator

import (
	"bytes"
	"crypto/sha512"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/enclave"
	"github.com/enclavekit/enclavekit/internal/nitroca"
)

// testImage is a made-up image measurement.
func testImage() map[int][]byte {
	m := map[int][]byte{}
	for i := range 3 {
		d := sha512.Sum384([]byte{'i', 'm', 'g', byte(i)})
		m[i] = d[:]
	}
	return m
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var testStart = time.Date(2026, 11, 28, 12, 0, 0, 123_000_000, time.UTC)

func newTest(t testing.TB, mod func(*Config)) (*Emulator, *fakeClock) {
	t.Helper()
	clk := &fakeClock{now: testStart}
	cfg := &Config{PCRs: testImage(), Clock: clk.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e, clk
}

func TestInitialPCRs(t *testing.T) {
	e, _ := newTest(t, nil)
	img := testImage()
	zero := make([]byte, enclave.PCRSize)
	for i := range enclave.MaxPCRs {
		v, locked, err := e.DescribePCR(i)
		if err != nil {
			t.Fatalf("DescribePCR(%d): %v", i, err)
		}
		if len(v) != enclave.PCRSize {
			t.Fatalf("PCR%d is %d bytes", i, len(v))
		}
		if wantLocked := i < 16; locked != wantLocked {
			t.Errorf("PCR%d locked = %v, want %v", i, locked, wantLocked)
		}
		switch {
		case i <= 2:
			if !bytes.Equal(v, img[i]) {
				t.Errorf("PCR%d = %x, want the image measurement %x", i, v, img[i])
			}
		case i == 4:
			if want := InstancePCR(strings.SplitN(e.ModuleID(), "-enc", 2)[0]); !bytes.Equal(v, want) {
				t.Errorf("PCR4 = %x, want %x", v, want)
			}
		default:
			if !bytes.Equal(v, zero) {
				t.Errorf("PCR%d = %x, want zero", i, v)
			}
		}
	}
	d, err := e.DescribeNSM()
	if err != nil {
		t.Fatal(err)
	}
	if d.MaxPCRs != 32 || d.Digest != "SHA384" || d.ModuleID != e.ModuleID() ||
		!slices.Equal(d.LockedPCRs, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}) {
		t.Errorf("DescribeNSM = %+v", d)
	}
	if !regexp.MustCompile(`^i-[0-9a-f]{17}-enc[0-9a-f]{16}$`).MatchString(e.ModuleID()) {
		t.Errorf("module ID %q not in AWS's form", e.ModuleID())
	}
}

// TestExtendFormula checks extension against SHA-384(PCR || data),
// computed here with crypto/sha512 directly, over a chain of extensions.
func TestExtendFormula(t *testing.T) {
	e, _ := newTest(t, nil)
	want := make([]byte, 48)
	for _, data := range [][]byte{[]byte("hello"), nil, bytes.Repeat([]byte{0xff}, 4000), {0}} {
		h := sha512.New384()
		h.Write(want)
		h.Write(data)
		want = h.Sum(nil)
		got, err := e.ExtendPCR(16, data)
		if err != nil {
			t.Fatalf("ExtendPCR(16, %d bytes): %v", len(data), err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("after extending with %d bytes: %x, want %x", len(data), got, want)
		}
		v, locked, _ := e.DescribePCR(16)
		if !bytes.Equal(v, want) || locked {
			t.Fatalf("DescribePCR(16) = %x, %v", v, locked)
		}
	}
	// Other PCRs are untouched.
	if v, _, _ := e.DescribePCR(17); !bytes.Equal(v, make([]byte, 48)) {
		t.Fatalf("PCR17 changed: %x", v)
	}
}

func TestLockSemantics(t *testing.T) {
	e, _ := newTest(t, nil)
	for _, i := range []int{0, 1, 2, 3, 4, 8, 15} {
		if _, err := e.ExtendPCR(i, []byte("x")); !errors.Is(err, enclave.ErrReadOnlyIndex) {
			t.Errorf("ExtendPCR(%d) on a boot-locked PCR: %v, want ErrReadOnlyIndex", i, err)
		}
		if err := e.LockPCR(i); !errors.Is(err, enclave.ErrReadOnlyIndex) {
			t.Errorf("LockPCR(%d) again: %v, want ErrReadOnlyIndex", i, err)
		}
	}
	before, _ := e.ExtendPCR(20, []byte("a"))
	if err := e.LockPCR(20); err != nil {
		t.Fatalf("LockPCR(20): %v", err)
	}
	_, err := e.ExtendPCR(20, []byte("b"))
	var ne *enclave.NSMError
	if !errors.As(err, &ne) || ne.Code != enclave.CodeReadOnlyIndex || ne.Op != "ExtendPCR" {
		t.Fatalf("ExtendPCR on locked PCR20: %v", err)
	}
	if v, locked, _ := e.DescribePCR(20); !bytes.Equal(v, before) || !locked {
		t.Fatalf("PCR20 after refused extension: %x locked=%v", v, locked)
	}
	// LockPCRs(n) locks [0, n).
	if err := e.LockPCRs(24); err != nil {
		t.Fatalf("LockPCRs(24): %v", err)
	}
	for i := range 32 {
		_, locked, _ := e.DescribePCR(i)
		if want := i < 24; locked != want {
			t.Errorf("after LockPCRs(24): PCR%d locked = %v", i, locked)
		}
	}
	if err := e.LockPCRs(33); !errors.Is(err, enclave.ErrInvalidIndex) {
		t.Errorf("LockPCRs(33): %v, want ErrInvalidIndex", err)
	}
	if err := e.LockPCRs(32); err != nil {
		t.Errorf("LockPCRs(32): %v", err)
	}
	for _, i := range []int{-1, 32, 1000} {
		if _, _, err := e.DescribePCR(i); !errors.Is(err, enclave.ErrInvalidIndex) {
			t.Errorf("DescribePCR(%d): %v", i, err)
		}
		if _, err := e.ExtendPCR(i, nil); !errors.Is(err, enclave.ErrInvalidIndex) {
			t.Errorf("ExtendPCR(%d): %v", i, err)
		}
		if err := e.LockPCR(i); !errors.Is(err, enclave.ErrInvalidIndex) {
			t.Errorf("LockPCR(%d): %v", i, err)
		}
	}
}

func TestLimits(t *testing.T) {
	e, _ := newTest(t, nil)
	if _, err := e.Attestation(make([]byte, 1025), nil, nil); !errors.Is(err, enclave.ErrInvalidArgument) {
		t.Errorf("1025-byte nonce: %v", err)
	}
	full := bytes.Repeat([]byte{0x80}, 1024)
	if _, err := e.Attestation(full, full, full); err != nil {
		t.Errorf("three 1024-byte fields: %v", err)
	}
	if _, err := e.ExtendPCR(16, make([]byte, 4096)); !errors.Is(err, enclave.ErrInputTooLarge) {
		t.Errorf("4 KiB extend: %v", err)
	}
	if v, _, _ := e.DescribePCR(16); !bytes.Equal(v, make([]byte, 48)) {
		t.Error("refused extension changed PCR16")
	}
	r1, err := e.GetRandom()
	if err != nil || len(r1) != RandomSize {
		t.Fatalf("GetRandom: %d bytes, %v", len(r1), err)
	}
	r2, _ := e.GetRandom()
	if bytes.Equal(r1, r2) {
		t.Fatal("GetRandom repeated itself")
	}
	e.Close()
	if _, err := e.Attestation(nil, nil, nil); !errors.Is(err, enclave.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestDocumentsVerify(t *testing.T) {
	e, clk := newTest(t, nil)
	if _, err := e.ExtendPCR(16, []byte("app")); err != nil {
		t.Fatal(err)
	}
	if err := e.LockPCR(16); err != nil {
		t.Fatal(err)
	}
	_, _ = e.ExtendPCR(17, []byte("unlocked, so absent from documents"))
	nonce, ud, pk := []byte("nonce-1"), []byte{}, []byte("public key bytes")
	raw, err := e.Attestation(nonce, ud, pk)
	if err != nil {
		t.Fatal(err)
	}
	img := testImage()
	doc, err := attestation.Verify(raw, attestation.Options{
		Roots:       []*x509Certificate{e.Root()},
		CurrentTime: clk.Now(),
		PCRs:        map[int][]byte{0: img[0], 1: img[1], 2: img[2]},
		Nonce:       nonce, UserData: ud, PublicKey: pk,
	})
	if err != nil {
		t.Fatalf("Verify with the emulator root: %v", err)
	}
	if doc.ModuleID != e.ModuleID() || !doc.Timestamp.Equal(testStart.Truncate(time.Millisecond)) || doc.Digest != "SHA384" {
		t.Errorf("document fields: %q %v %q", doc.ModuleID, doc.Timestamp, doc.Digest)
	}
	if len(doc.PCRs) != 17 {
		t.Errorf("document has %d PCRs, want the 17 locked ones", len(doc.PCRs))
	}
	if _, ok := doc.PCRs[17]; ok {
		t.Error("unlocked PCR17 is in the document")
	}
	if want := enclave.ExtendPCRValue(make([]byte, 48), []byte("app")); !bytes.Equal(doc.PCRs[16], want) {
		t.Errorf("PCR16 = %x, want %x", doc.PCRs[16], want)
	}
	if doc.UserData == nil || len(doc.UserData) != 0 {
		t.Errorf("empty user data should stay a zero-length byte string, got %v", doc.UserData)
	}
	// Never trusted by default: the AWS root does not sign it.
	if _, err := attestation.Verify(raw, attestation.Options{CurrentTime: clk.Now()}); !errors.Is(err, attestation.ErrUntrustedChain) {
		t.Errorf("Verify with the AWS root: %v, want ErrUntrustedChain", err)
	}
	// A wrong image measurement is a PCR mismatch naming PCR0.
	other := sha512.Sum384([]byte("another image"))
	_, err = attestation.Verify(raw, attestation.Options{Roots: []*x509Certificate{e.Root()}, CurrentTime: clk.Now(), PCRs: map[int][]byte{0: other[:]}})
	var pm *attestation.PCRMismatchError
	if !errors.As(err, &pm) || len(pm.Mismatches) != 1 || pm.Mismatches[0].Index != 0 {
		t.Errorf("wrong PCR0: %v", err)
	}
	// Absent fields are absent.
	raw2, err := e.Attestation(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := attestation.Parse(raw2)
	if err != nil {
		t.Fatal(err)
	}
	if d2.Nonce != nil || d2.UserData != nil || d2.PublicKey != nil {
		t.Errorf("absent fields: %v %v %v", d2.Nonce, d2.UserData, d2.PublicKey)
	}
}

func TestDebugMode(t *testing.T) {
	e, clk := newTest(t, func(c *Config) { c.PCRs = nil; c.Debug = true })
	raw, err := e.Attestation(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := attestation.Options{Roots: []*x509Certificate{e.Root()}, CurrentTime: clk.Now()}
	if _, err := attestation.Verify(raw, opts); !errors.Is(err, attestation.ErrDebugMode) {
		t.Fatalf("debug document without AllowDebugUnsafe: %v, want ErrDebugMode", err)
	}
	opts.AllowDebugUnsafe = true
	doc, err := attestation.Verify(raw, opts)
	if err != nil {
		t.Fatalf("with AllowDebugUnsafe: %v", err)
	}
	for i := range 3 {
		if !bytes.Equal(doc.PCRs[i], make([]byte, 48)) {
			t.Errorf("PCR%d not zero in debug mode", i)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	img := testImage()
	for name, cfg := range map[string]*Config{
		"nil":            nil,
		"no measurement": {},
		"debug and PCR0": {Debug: true, PCRs: img},
		"zero PCR0":      {PCRs: map[int][]byte{0: make([]byte, 48)}},
		"short PCR0":     {PCRs: map[int][]byte{0: make([]byte, 32)}},
		"PCR16 at boot":  {PCRs: map[int][]byte{0: img[0], 16: img[1]}},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

func TestLeafRotation(t *testing.T) {
	e, clk := newTest(t, nil)
	verifyAt := func(raw []byte) *attestation.Document {
		t.Helper()
		doc, err := attestation.Verify(raw, attestation.Options{Roots: []*x509Certificate{e.Root()}, CurrentTime: clk.Now()})
		if err != nil {
			t.Fatalf("Verify at the emulator's time: %v", err)
		}
		return doc
	}
	raw1, _ := e.Attestation(nil, nil, nil)
	d1 := verifyAt(raw1)
	if got := d1.Certificate.NotAfter.Sub(d1.Certificate.NotBefore); got != 3*time.Hour {
		t.Fatalf("leaf lifetime %v, want 3h", got)
	}
	clk.Add(time.Hour)
	raw2, _ := e.Attestation(nil, nil, nil)
	if d2 := verifyAt(raw2); !d2.Certificate.Equal(d1.Certificate) {
		t.Fatal("leaf replaced within its lifetime")
	}
	clk.Add(2*time.Hour - LeafRotationMargin + time.Second)
	raw3, _ := e.Attestation(nil, nil, nil)
	d3 := verifyAt(raw3)
	if d3.Certificate.Equal(d1.Certificate) {
		t.Fatal("leaf not replaced near its expiry")
	}
	if !d3.CABundle[3].Equal(d1.CABundle[3]) {
		t.Fatal("instance CA replaced with the leaf")
	}
	if d3.ModuleID != d1.ModuleID {
		t.Fatalf("module ID changed with the leaf: %s -> %s", d1.ModuleID, d3.ModuleID)
	}
	// Past the instance CA's day: a new chain under the same root.
	clk.Add(30 * time.Hour)
	raw4, _ := e.Attestation(nil, nil, nil)
	d4 := verifyAt(raw4)
	if d4.CABundle[3].Equal(d1.CABundle[3]) || !d4.CABundle[0].Equal(d1.CABundle[0]) {
		t.Fatal("want a new instance CA under the same root")
	}
	// The current document verifies now.
	if _, err := attestation.Verify(raw4, attestation.Options{Roots: []*x509Certificate{e.Root()}, CurrentTime: clk.Now()}); err != nil {
		t.Fatalf("fresh document after reissue: %v", err)
	}
}

func TestStateDirKeepsRoot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	e1, _ := newTest(t, func(c *Config) { c.StateDir = dir })
	e2, _ := newTest(t, func(c *Config) { c.StateDir = dir })
	if !e1.Root().Equal(e2.Root()) {
		t.Fatal("a second emulator on the same state dir has another root")
	}
	if !bytes.Equal(mustPCR(t, e1, 4), mustPCR(t, e2, 4)) {
		t.Fatal("PCR4 differs between emulators sharing a state dir")
	}
	fi, err := os.Stat(filepath.Join(dir, RootKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("root key file: %v %v", fi, err)
	}
	root, err := nitroca.LoadRoot(filepath.Join(dir, RootCertFile), filepath.Join(dir, RootKeyFile))
	if err != nil || !root.Cert.Equal(e1.Root()) {
		t.Fatalf("LoadRoot: %v", err)
	}
	if !bytes.Equal(e1.RootPEM(), root.CertPEM()) {
		t.Fatal("RootPEM differs from the saved root")
	}
}

func TestParseMeasurements(t *testing.T) {
	img := testImage()
	hexOf := func(b []byte) string { return strings.ToUpper(string(hexEncode(b))) }
	describeEIF := `{"EifVersion": 4, "Measurements": {"HashAlgorithm": "Sha384 { ... }",
		"PCR0": "` + hexOf(img[0]) + `", "PCR1": "` + hexOf(img[1]) + `", "PCR2": "` + hexOf(img[2]) + `"}, "IsSigned": false}`
	got, err := ParseMeasurements([]byte(describeEIF))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if !bytes.Equal(got[i], img[i]) {
			t.Errorf("PCR%d = %x", i, got[i])
		}
	}
	bare := `{"PCR0": "` + hexOf(img[0]) + `"}`
	if got, err := ParseMeasurements([]byte(bare)); err != nil || len(got) != 1 {
		t.Errorf("bare object: %v %v", got, err)
	}
	for name, in := range map[string]string{
		"short":     `{"PCR0": "abcd"}`,
		"not hex":   `{"PCR0": "zz"}`,
		"sha256":    `{"HashAlgorithm": "Sha256", "PCR0": "` + hexOf(img[0]) + `"}`,
		"unknown":   `{"Foo": "bar"}`,
		"pcr32":     `{"PCR32": "` + hexOf(img[0]) + `"}`,
		"leading 0": `{"PCR01": "` + hexOf(img[0]) + `"}`,
		"empty":     `{}`,
		"not json":  `PCR0=00`,
	} {
		if _, err := ParseMeasurements([]byte(in)); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

// TestParseMeasurementsMessages: a file that is not the JSON wanted is
// described in JSON's terms, with the line and column of a syntax error,
// never with the decoder's jargon or Go's type names.
func TestParseMeasurementsMessages(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"PCR0": "ab",}`, "measurements: not valid JSON: line 1, column 15: unexpected '}' where a member name (a quoted string) should be"},
		{"{\n \"PCR0\": \"ab\"\n \"PCR1\": \"cd\"}", "measurements: not valid JSON: line 3, column 2: unexpected '\"' after a member, want ',' or '}'"},
		{`{"PCR0" "ab"}`, "measurements: not valid JSON: line 1, column 9: unexpected '\"' after a member name, want ':'"},
		{`{"PCR0": ab}`, "measurements: not valid JSON: line 1, column 10: unexpected 'a' where a value should be"},
		{`{"PCR0": "ab"} x`, "measurements: not valid JSON: line 1, column 16: unexpected 'x' after the JSON value"},
		{"{\n \"Measurements\": {\n  \"PCR0\": \"ab\"\n}\n", "measurements: not valid JSON: the file ends before the JSON value does"},
		{"", "measurements: empty: want a JSON object"},
		{" \n", "measurements: empty: want a JSON object"},
		{`[1]`, "measurements: want a JSON object, got an array"},
		{`"PCR0"`, "measurements: want a JSON object, got a string"},
		{`{"Measurements": [1]}`, "measurements: Measurements: want a JSON object, got an array"},
		{`{"Measurements": 3}`, "measurements: Measurements: want a JSON object, got a number"},
	} {
		_, err := ParseMeasurements([]byte(tc.in))
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%q: %v, want ErrConfig", tc.in, err)
			continue
		}
		if got := strings.TrimPrefix(err.Error(), ErrConfig.Error()+": "); got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

// TestParsePCRHex: a PCR value is 48 bytes of hex, either case, and the
// errors say what is wanted in the user's terms (no Go package text).
func TestParsePCRHex(t *testing.T) {
	img := testImage()
	for _, s := range []string{string(hexEncode(img[0])), strings.ToUpper(string(hexEncode(img[0]))), " " + string(hexEncode(img[0])) + "\n"} {
		if v, err := ParsePCRHex(s); err != nil || !bytes.Equal(v, img[0]) {
			t.Errorf("%q: %x, %v", s, v, err)
		}
	}
	for in, want := range map[string]string{
		"zz":                            "not hex: want 96 hex digits (48 bytes)",
		"0g" + strings.Repeat("00", 47): "not hex: want 96 hex digits (48 bytes)",
		"abc":                           "3 hex digits, want 96 (48 bytes)",
		"abcd":                          "2 bytes, want 48 (96 hex digits)",
		"":                              "0 bytes, want 48 (96 hex digits)",
		strings.Repeat("00", 49):        "49 bytes, want 48 (96 hex digits)",
	} {
		if _, err := ParsePCRHex(in); err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

// TestSharedPCRBank: emulators on one state directory share the PCR bank
// as the processes of one enclave share the device's.
func TestSharedPCRBank(t *testing.T) {
	dir := t.TempDir()
	e1, _ := newTest(t, func(c *Config) { c.StateDir = dir })
	e2, _ := newTest(t, func(c *Config) { c.StateDir = dir })
	v, err := e1.ExtendPCR(16, []byte("app"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e1.LockPCR(16); err != nil {
		t.Fatal(err)
	}
	got, locked, err := e2.DescribePCR(16)
	if err != nil || !bytes.Equal(got, v) || !locked {
		t.Fatalf("second process sees PCR16 = %x locked=%v (%v), want %x locked", got, locked, err, v)
	}
	if _, err := e2.ExtendPCR(16, []byte("x")); !errors.Is(err, enclave.ErrReadOnlyIndex) {
		t.Fatalf("extending PCR16 locked by the other process: %v", err)
	}
	raw, err := e2.Attestation(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := attestation.Parse(raw)
	if !bytes.Equal(doc.PCRs[16], v) {
		t.Fatalf("document of the second process lacks PCR16")
	}
	if e1.ModuleID() != e2.ModuleID() || doc.ModuleID != e1.ModuleID() {
		t.Fatalf("module IDs differ within one emulated enclave: %s %s %s", e1.ModuleID(), e2.ModuleID(), doc.ModuleID)
	}
	// The same state started later keeps the bank.
	e3, _ := newTest(t, func(c *Config) { c.StateDir = dir })
	if got, locked, _ := e3.DescribePCR(16); !bytes.Equal(got, v) || !locked {
		t.Fatal("a later process with the same measurements lost the bank")
	}
	// Other boot measurements: an emulated reboot, a fresh bank.
	e5, _ := newTest(t, func(c *Config) { c.StateDir = dir; c.PCRs = nil; c.Debug = true })
	if got, locked, _ := e5.DescribePCR(16); !bytes.Equal(got, make([]byte, 48)) || locked {
		t.Fatal("a reboot with other measurements kept PCR16")
	}
	if e5.ModuleID() == e1.ModuleID() {
		t.Fatal("a rebooted enclave kept the module ID")
	}
	if _, _, err := e1.DescribePCR(16); err == nil || !strings.Contains(err.Error(), "rebooted") {
		t.Fatalf("old process after the reboot: %v", err)
	}
}

func mustPCR(t *testing.T, e *Emulator, i int) []byte {
	t.Helper()
	v, _, err := e.DescribePCR(i)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func FuzzParseMeasurements(f *testing.F) {
	f.Add([]byte(`{"Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": "` + strings.Repeat("ab", 48) + `"}}`))
	f.Add([]byte(`{"PCR0": "` + strings.Repeat("00", 48) + `", "PCR8": "` + strings.Repeat("11", 48) + `"}`))
	f.Add([]byte(`{"Measurements": 3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pcrs, err := ParseMeasurements(data)
		if err != nil {
			if pcrs != nil || !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v with %v", err, pcrs)
			}
			return
		}
		if len(pcrs) == 0 {
			t.Fatal("accepted no PCRs")
		}
		for i, v := range pcrs {
			if i < 0 || i > 15 || len(v) != 48 {
				t.Fatalf("accepted PCR%d of %d bytes", i, len(v))
			}
		}
	})
}

// TestNitroTPMDocuments: the emulator's NitroTPM-shaped documents verify
// with attestation.VerifyNitroTPM (PCRs 0-23 of the bank, locked or not)
// and are refused by the enclave verifier, as its enclave documents are by
// the NitroTPM verifier.
func TestNitroTPMDocuments(t *testing.T) {
	e, clk := newTest(t, nil)
	if _, err := e.ExtendPCR(17, []byte("tpm")); err != nil {
		t.Fatal(err)
	}
	nonce := []byte("tpm nonce")
	raw, err := e.AttestationNitroTPM(nonce, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := attestation.Options{Roots: []*x509Certificate{e.Root()}, CurrentTime: clk.Now(), Nonce: nonce}
	want17 := enclave.ExtendPCRValue(make([]byte, 48), []byte("tpm"))
	doc, err := attestation.VerifyNitroTPM(raw, attestation.Options{Roots: opts.Roots, CurrentTime: opts.CurrentTime, Nonce: nonce,
		PCRs: map[int][]byte{0: testImage()[0], 17: want17}})
	if err != nil {
		t.Fatalf("VerifyNitroTPM: %v", err)
	}
	if len(doc.PCRs) != 24 || !strings.HasSuffix(doc.ModuleID, "-tpm0000000000000000") || strings.Contains(doc.ModuleID, "-enc") {
		t.Errorf("NitroTPM document: %d PCRs, module ID %q", len(doc.PCRs), doc.ModuleID)
	}
	if _, err := attestation.Verify(raw, opts); !errors.Is(err, attestation.ErrNotEnclave) {
		t.Errorf("Verify of a NitroTPM document: %v", err)
	}
	enc, err := e.Attestation(nonce, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := attestation.VerifyNitroTPM(enc, opts); !errors.Is(err, attestation.ErrNotNitroTPM) {
		t.Errorf("VerifyNitroTPM of an enclave document: %v", err)
	}
	if _, err := e.AttestationNitroTPM(make([]byte, 4096), nil, nil); err == nil {
		t.Error("oversized nonce accepted")
	}
}

// TestNewImageSentinels: each boot measurement New refuses is its own
// sentinel, matching ErrConfig too, so a caller (enclave-agent) can say it
// in its own terms without reading the message.
func TestNewImageSentinels(t *testing.T) {
	pcr := func(b byte) []byte { v := make([]byte, 48); v[0] = b; return v }
	for _, tc := range []struct {
		name string
		cfg  Config
		want error
	}{
		{"debug with PCR0", Config{Debug: true, PCRs: map[int][]byte{0: pcr(1)}}, ErrDebugWithImage},
		{"debug with PCR2", Config{Debug: true, PCRs: map[int][]byte{2: pcr(1)}}, ErrDebugWithImage},
		{"no PCR0", Config{PCRs: map[int][]byte{1: pcr(1)}}, ErrNoImage},
		{"PCR0 all zero", Config{PCRs: map[int][]byte{0: pcr(0)}}, ErrZeroPCR0},
	} {
		e, err := New(&tc.cfg)
		if e != nil || !errors.Is(err, tc.want) || !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want %v (and ErrConfig)", tc.name, err, tc.want)
		}
	}
}
