// SPDX-License-Identifier: Apache-2.0

package emulator

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/enclave"
	"github.com/enclavekit/enclavekit/internal/nitroca"
)

// LeafRotationMargin is how long before its expiry the emulator replaces
// the 3-hour leaf, so that a document is never signed by a leaf that expires
// moments later.
const LeafRotationMargin = 5 * time.Minute

// RandomSize is the number of bytes GetRandom returns, as the device does.
const RandomSize = 256

// State directory file names (see [Config.StateDir]).
const (
	RootCertFile = "root.pem"
	RootKeyFile  = "root.key"
)

// Version reported by DescribeNSM.
const (
	VersionMajor = 1
	VersionMinor = 0
	VersionPatch = 0
)

// ErrConfig is wrapped by every configuration error of [New].
var ErrConfig = errors.New("emulator: invalid configuration")

// The boot measurements [New] refuses; each matches [ErrConfig] too.
var (
	// ErrDebugWithImage: Config.Debug with PCR0, PCR1 or PCR2 given (a
	// debug-mode enclave's are all zero).
	ErrDebugWithImage = fmt.Errorf("%w: debug mode has PCR0-PCR2 all zero; do not also give an image measurement", ErrConfig)
	// ErrNoImage: no PCR0 and not Config.Debug.
	ErrNoImage = fmt.Errorf("%w: no image measurement: give PCR0 or choose debug mode", ErrConfig)
	// ErrZeroPCR0: a PCR0 of all zeros without Config.Debug.
	ErrZeroPCR0 = fmt.Errorf("%w: PCR0 all zero is debug mode: choose debug mode explicitly", ErrConfig)
)

// Config configures an [Emulator]. A nil *Config is not accepted: the image
// measurement (or debug mode) must be chosen explicitly.
type Config struct {
	// PCRs sets the boot values of PCR0-PCR15, each 48 bytes: PCR0, PCR1
	// and PCR2 are the image measurements, PCR3 the IAM role, PCR4 the
	// parent instance, PCR8 the signing certificate. Unset PCRs are zero,
	// except PCR4 (see above). Setting a PCR at or above 16 is an error:
	// applications extend those.
	PCRs map[int][]byte
	// Debug emulates a debug-mode enclave: PCR0, PCR1 and PCR2 all zero.
	// It refuses to combine with PCR0-PCR2 set in PCRs. Without Debug,
	// PCR0 must be set.
	Debug bool
	// Root is the root CA that signs the chain. When nil, the root is
	// loaded from StateDir (created there on first use), or, without
	// StateDir, made afresh and lost when the process exits.
	Root *nitroca.Root
	// StateDir keeps the root certificate (root.pem, 0644) and key
	// (root.key, 0600) so that verifiers told to trust it once keep doing
	// so across restarts (created under a lock, root.key.lock, so that
	// processes starting together make one root; see
	// nitroca.LoadOrCreateRoot for what a crash leaves), and the PCR bank (pcrs.json), shared under a file
	// lock by every process using the directory, as the device's bank is
	// shared by the processes of one enclave: a PCR extended and locked by
	// one command shows in the next one's documents. A process started with
	// other boot measurements (PCR0-PCR15) resets the bank: an emulated
	// reboot. Created with mode 0700 when missing. Empty keeps everything
	// in memory.
	StateDir string
	// Region is named in the emulated certificates ("" is nitroca's default).
	Region string
	// Clock is the time source for document timestamps and certificate
	// validity; nil is time.Now.
	Clock func() time.Time
	// Rand is the entropy for keys, signatures and GetRandom; nil is
	// crypto/rand. It must be safe for concurrent use.
	Rand io.Reader
	// Logger receives the emulator warning and rotation notices; nil is
	// slog.Default().
	Logger *slog.Logger
}

// Emulator is a software NSM. It is safe for concurrent use.
type Emulator struct {
	clock  func() time.Time
	rand   io.Reader
	log    *slog.Logger
	root   *nitroca.Root
	region string

	stateDir string // "" keeps the PCR bank in memory only
	boot     string // bootID of this process's boot measurements

	mu       sync.Mutex
	closed   bool
	joined   bool // the shared bank was checked (and reset if booted differently)
	pcrs     [enclave.MaxPCRs][]byte
	locked   [enclave.MaxPCRs]bool
	chain    *nitroca.Chain
	moduleID string
}

var _ enclave.NSM = (*Emulator)(nil)

// New starts an emulator. It logs a warning that its documents prove
// nothing.
func New(cfg *Config) (*Emulator, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: no configuration: give the image measurement (PCR0) or choose debug mode", ErrConfig)
	}
	e := &Emulator{clock: cfg.Clock, rand: cfg.Rand, log: cfg.Logger, region: cfg.Region}
	if e.clock == nil {
		e.clock = time.Now
	}
	if e.rand == nil {
		e.rand = rand.Reader
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	for i, v := range cfg.PCRs {
		if i < 0 || i >= enclave.BootLockedPCRs {
			return nil, fmt.Errorf("%w: PCR%d cannot be set at boot (only PCR0-PCR15)", ErrConfig, i)
		}
		if len(v) != enclave.PCRSize {
			return nil, fmt.Errorf("%w: PCR%d is %d bytes, want %d", ErrConfig, i, len(v), enclave.PCRSize)
		}
	}
	_, has0 := cfg.PCRs[0]
	_, has1 := cfg.PCRs[1]
	_, has2 := cfg.PCRs[2]
	switch {
	case cfg.Debug && (has0 || has1 || has2):
		return nil, ErrDebugWithImage
	case !cfg.Debug && !has0:
		return nil, ErrNoImage
	case !cfg.Debug && isZero(cfg.PCRs[0]):
		return nil, ErrZeroPCR0
	}

	now := e.clock()
	root := cfg.Root
	if root == nil && cfg.StateDir != "" {
		if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
			return nil, fmt.Errorf("emulator: state directory: %w", err)
		}
		var err error
		root, err = nitroca.LoadOrCreateRoot(filepath.Join(cfg.StateDir, RootCertFile),
			filepath.Join(cfg.StateDir, RootKeyFile), e.rand, now)
		if err != nil {
			return nil, fmt.Errorf("emulator: root in %s: %w", cfg.StateDir, err)
		}
	}
	if root == nil {
		var err error
		if root, err = nitroca.NewRoot(e.rand, now); err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		}
	}
	e.root = root
	chain, err := root.IssueChain(e.rand, now, &nitroca.Options{Region: cfg.Region})
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	e.chain = chain
	e.moduleID = chain.ModuleID

	for i := range e.pcrs {
		e.pcrs[i] = make([]byte, enclave.PCRSize)
		e.locked[i] = i < enclave.BootLockedPCRs
	}
	for i, v := range cfg.PCRs {
		copy(e.pcrs[i], v)
	}
	if _, ok := cfg.PCRs[4]; !ok {
		if cfg.StateDir != "" {
			// Stable across the processes sharing the bank.
			e.pcrs[4] = InstancePCR("i-" + fmt.Sprintf("%x", sha256Sum(root.Cert.Raw))[:17])
		} else {
			e.pcrs[4] = InstancePCR(instanceID(e.moduleID))
		}
	}
	e.boot = bootID(&e.pcrs)
	e.stateDir = cfg.StateDir
	if err := e.withBank(false, func() error { return nil }); err != nil {
		return nil, err
	}

	e.log.Warn("NSM EMULATOR IN USE: attestation documents are signed by a local software CA and prove nothing; never trust its root in production",
		slog.String("module_id", e.ModuleID()),
		slog.String("root_sha256", fmt.Sprintf("%x", sha256Sum(root.Cert.Raw))),
		slog.Bool("debug_mode", cfg.Debug))
	return e, nil
}

// InstancePCR returns the PCR4 value the emulator derives from an instance
// ID: SHA-384(48 zero bytes || SHA-384(instanceID)), the image builder's
// measuring formula applied to the ID.
func InstancePCR(instanceID string) []byte {
	d := sha512.Sum384([]byte(instanceID))
	return enclave.ExtendPCRValue(make([]byte, enclave.PCRSize), d[:])
}

func instanceID(moduleID string) string {
	if i := bytes.Index([]byte(moduleID), []byte("-enc")); i > 0 {
		return moduleID[:i]
	}
	return moduleID
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Root returns the emulator's root certificate: give it to a verifier
// (attestation.Options.Roots, nitro-verify --root) to make it trust the
// emulator's documents.
func (e *Emulator) Root() *x509.Certificate { return e.root.Cert }

// RootPEM returns the root certificate as PEM.
func (e *Emulator) RootPEM() []byte { return e.root.CertPEM() }

// ModuleID returns the emulated enclave's module ID, "i-<17 hex>-enc<16 hex>".
func (e *Emulator) ModuleID() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.moduleID
}

func nsmErr(op, code string) error { return &enclave.NSMError{Op: op, Code: code} }

// Attestation implements [enclave.NSM]: a document signed by the current
// leaf, carrying the locked PCRs.
func (e *Emulator) Attestation(nonce, userData, publicKey []byte) ([]byte, error) {
	return e.attest(false, nonce, userData, publicKey)
}

// AttestationNitroTPM returns a NitroTPM-shaped document: what an EC2
// instance's NitroTPM returns (nitrotpm_pcrs instead of pcrs, a module ID
// ending in "-tpm0000000000000000"), carrying PCRs 0-23 of the emulator's
// bank, signed by the same chain. It is not part of the NSM interface: it
// exists to test NitroTPM verifiers (attestation.VerifyNitroTPM, key
// policies with NitroTPM condition keys), which must refuse enclave
// documents, as enclave verifiers refuse these.
func (e *Emulator) AttestationNitroTPM(nonce, userData, publicKey []byte) ([]byte, error) {
	return e.attest(true, nonce, userData, publicKey)
}

// attest checks the request's fields and signs the document, an enclave
// document or with nitroTPM a NitroTPM-shaped one, holding the bank's lock.
func (e *Emulator) attest(nitroTPM bool, nonce, userData, publicKey []byte) ([]byte, error) {
	if err := enclave.CheckAttestationRequest(nonce, userData, publicKey); err != nil {
		return nil, err
	}
	var out []byte
	err := e.withBank(false, func() error {
		var err error
		out, err = e.signLocked(nitroTPM, nonce, userData, publicKey)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// nitroTPMPCRs is the number of PCRs a NitroTPM reports.
const nitroTPMPCRs = 24

// signLocked signs an enclave document (the locked PCRs), or with nitroTPM
// a NitroTPM-shaped one (PCRs 0-23).
func (e *Emulator) signLocked(nitroTPM bool, nonce, userData, publicKey []byte) ([]byte, error) {
	now := e.clock()
	if err := e.freshLeafLocked(now); err != nil {
		return nil, err
	}
	doc := &attestation.Document{
		ModuleID:  e.moduleID,
		Digest:    "SHA384",
		Timestamp: now.UTC().Truncate(time.Millisecond),
		PCRs:      make(map[int][]byte),
		PublicKey: clone(publicKey),
		UserData:  clone(userData),
		Nonce:     clone(nonce),
	}
	for i := range e.pcrs {
		if e.locked[i] || (nitroTPM && i < nitroTPMPCRs) {
			doc.PCRs[i] = slices.Clone(e.pcrs[i])
		}
	}
	var out []byte
	var err error
	if nitroTPM {
		doc.ModuleID = instanceID(e.moduleID) + "-tpm0000000000000000"
		out, err = e.chain.Signer().SignNitroTPM((*attestation.NitroTPMDocument)(doc), e.rand)
	} else {
		out, err = e.chain.Signer().Sign(doc, e.rand)
	}
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	// The device's response wraps the document in {"Attestation":
	// {"document": bstr}}: 1+12+1+9 bytes plus the byte string header.
	if len(out)+23+5 > enclave.MaxResponseSize {
		return nil, nsmErr("Attestation", enclave.CodeBufferTooSmall)
	}
	return out, nil
}

// clone keeps nil as nil (absent, written as CBOR null) and empty as empty.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// freshLeafLocked replaces the leaf when it has less than
// LeafRotationMargin left (or is not yet valid, the clock having gone
// back), and the whole chain under the root when the instance CA cannot
// issue a leaf for now.
func (e *Emulator) freshLeafLocked(now time.Time) error {
	leaf := e.chain.Leaf
	if !now.Before(leaf.NotBefore) && now.Before(leaf.NotAfter.Add(-LeafRotationMargin)) {
		return nil
	}
	inst := e.chain.Instance
	if !now.Before(inst.NotBefore) && now.Add(nitroca.LeafValidity).Before(inst.NotAfter) {
		if err := e.chain.RotateLeaf(e.rand, now); err != nil {
			return fmt.Errorf("emulator: rotating the leaf: %w", err)
		}
		e.log.Info("NSM emulator: rotated the 3-hour leaf certificate",
			slog.Time("not_after", e.chain.Leaf.NotAfter))
		return nil
	}
	chain, err := e.root.IssueChain(e.rand, now, &nitroca.Options{Region: e.region})
	if err != nil {
		return fmt.Errorf("emulator: reissuing the chain: %w", err)
	}
	e.chain = chain
	e.log.Info("NSM emulator: reissued the intermediate CAs and leaf", slog.Time("leaf_not_after", chain.Leaf.NotAfter))
	return nil
}

// DescribePCR implements [enclave.NSM].
func (e *Emulator) DescribePCR(index int) ([]byte, bool, error) {
	if index < 0 || index >= enclave.MaxPCRs {
		return nil, false, nsmErr("DescribePCR", enclave.CodeInvalidIndex)
	}
	var v []byte
	var locked bool
	err := e.withBank(false, func() error {
		v, locked = slices.Clone(e.pcrs[index]), e.locked[index]
		return nil
	})
	return v, locked, err
}

// ExtendPCR implements [enclave.NSM]: PCR = SHA-384(PCR || data).
func (e *Emulator) ExtendPCR(index int, data []byte) ([]byte, error) {
	if err := enclave.CheckExtendRequest(index, data); err != nil {
		return nil, err
	}
	if index >= enclave.MaxPCRs {
		return nil, nsmErr("ExtendPCR", enclave.CodeInvalidIndex)
	}
	var v []byte
	err := e.withBank(true, func() error {
		if e.locked[index] {
			return nsmErr("ExtendPCR", enclave.CodeReadOnlyIndex)
		}
		e.pcrs[index] = enclave.ExtendPCRValue(e.pcrs[index], data)
		v = slices.Clone(e.pcrs[index])
		return nil
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// LockPCR implements [enclave.NSM].
func (e *Emulator) LockPCR(index int) error {
	if index < 0 || index >= enclave.MaxPCRs {
		return nsmErr("LockPCR", enclave.CodeInvalidIndex)
	}
	return e.withBank(true, func() error {
		if e.locked[index] {
			return nsmErr("LockPCR", enclave.CodeReadOnlyIndex)
		}
		e.locked[index] = true
		return nil
	})
}

// LockPCRs implements [enclave.NSM]: locks [0, n).
func (e *Emulator) LockPCRs(n int) error {
	if n < 0 || n > enclave.MaxPCRs {
		return nsmErr("LockPCRs", enclave.CodeInvalidIndex)
	}
	return e.withBank(true, func() error {
		for i := range n {
			e.locked[i] = true
		}
		return nil
	})
}

// DescribeNSM implements [enclave.NSM].
func (e *Emulator) DescribeNSM() (*enclave.Description, error) {
	d := &enclave.Description{
		VersionMajor: VersionMajor, VersionMinor: VersionMinor, VersionPatch: VersionPatch,
		MaxPCRs: enclave.MaxPCRs, Digest: "SHA384",
	}
	err := e.withBank(false, func() error {
		d.ModuleID = e.moduleID
		for i, l := range e.locked {
			if l {
				d.LockedPCRs = append(d.LockedPCRs, i)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// GetRandom implements [enclave.NSM]: 256 random bytes.
func (e *Emulator) GetRandom() ([]byte, error) {
	b := make([]byte, RandomSize)
	if _, err := e.Read(b); err != nil {
		return nil, err
	}
	return b, nil
}

// Read fills p from the emulator's entropy source.
func (e *Emulator) Read(p []byte) (int, error) {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return 0, enclave.ErrClosed
	}
	n, err := io.ReadFull(e.rand, p)
	if err != nil {
		return n, fmt.Errorf("emulator: entropy: %w", err)
	}
	return n, nil
}

// Close marks the emulator closed; later calls fail with [enclave.ErrClosed].
func (e *Emulator) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	return nil
}
