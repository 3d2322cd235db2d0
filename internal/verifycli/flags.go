// SPDX-License-Identifier: Apache-2.0

package verifycli

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/cli"
)

const usage = `Usage: nitro-verify [flags] [FILE|-]
       nitro-verify measure IMAGE.eif
       nitro-verify help | version

Verify an AWS Nitro Enclaves attestation document: its COSE_Sign1 ES384
signature, its certificate chain to the AWS Nitro root, its fields, and the
policy given by the flags. The input (FILE, or standard input when FILE is
absent or -) is raw CBOR, base64 or hex, detected automatically.

Flags:
    --root FILE        Trust the PEM root certificate(s) in FILE instead of the
                       embedded AWS Nitro Enclaves root G1 (e.g. an emulator's).
    --at TIME          Verify at TIME (RFC 3339), or at "document": check the
                       certificates at the document's own timestamp (stored
                       documents; leaf certificates live 3 hours). Default: now.
    --max-age DUR      Reject documents older than DUR (e.g. 5m, 24h) at the
                       current time (also with --at document).
    --pcr N=HEX        Expect PCR N to be HEX (48 bytes: 96 hex digits,
                       SHA-384, as every document's PCRs). Repeatable.
    --pcrs FILE        Expect the PCRs in FILE: JSON {"PCR0":"hex",...}, or the
                       output of 'nitro-cli describe-eif' (its "Measurements").
    --eif FILE         Expect the PCRs measured from the enclave image FILE:
                       PCR0, PCR1, PCR2, and PCR8 if the image is signed.
    --nonce HEX        Expect this nonce.
    --user-data HEX    Expect this user data.
    --public-key HEX   Expect this public key (hex of its DER).
    --allow-debug      Accept debug-mode enclaves (PCR0-2 zero). Unsafe: their
                       memory is readable from the parent instance.
    --nitrotpm         Verify a NitroTPM document (an EC2 instance's
                       attestation: nitrotpm_pcrs) instead of an enclave's;
                       --pcr, --pcrs and the report are then the NitroTPM
                       PCRs, the report's kind "nitrotpm" (else
                       "nitro_enclave"). Enclave documents are rejected
                       (not_nitrotpm), and so are an enclave image's PCRs
                       (--eif, or describe-eif's output in --pcrs).
    --json             Write a JSON report to standard output, whatever the
                       verdict (also when the input cannot be read, or the
                       --connect address cannot be reached).
    --connect H:P      Attested TLS: connect to the enclave's attested listener at
                       H:P, verify the document in its certificate and the fresh
                       one it returns for a nonce (--nonce, or 32 random bytes)
                       over that connection, bound to its key and TLS session.
                       Requires --pcr, --pcrs or --eif pinning the image
                       expected: a non-zero PCR0, PCR8, or PCR1 and PCR2.
    --any-image-unsafe With --connect: accept any enclave image. Unsafe: an
                       enclave the parent instance runs itself passes too.
                       Said on standard error (a warning), in the text
                       report (Image ANY) and in the JSON report
                       (verification.any_image_unsafe: true).
    --version          Print the version and exit (also: nitro-verify version).
    -h, --help         Print this help and exit (also: nitro-verify help).

Measure an enclave image (describe-eif's JSON): nitro-verify measure IMAGE.eif

Exit status:
    0  verified
    1  rejected (any reason, malformed input included)
    2  usage or I/O error (bad flag, unreadable input, root or PCR file)

A rejection is reported on standard error as "nitro-verify: error: CODE:
MESSAGE", CODE being one of malformed, unsupported_algorithm, bad_signature,
untrusted_chain, certificate_expired, certificate_not_yet_valid,
pcr_mismatch, nonce_mismatch, user_data_mismatch, public_key_mismatch,
too_old, from_future, debug_mode, not_enclave, not_nitrotpm. With --json
the report's error.code is that CODE, or io_error when the input or a
--root, --pcrs or --eif file could not be read (with --connect: also when
the listener could not be reached or did not answer).

Examples:
    nitro-verify --at document doc.cbor
    nitro-verify --pcrs measurements.json --max-age 5m --json doc.b64
    curl -s https://enclave.example/attestation | nitro-verify --nonce 0102ab -
    nitro-verify --connect enclave.example:443 --pcrs measurements.json
    nitro-verify --nitrotpm --pcr 4=HEX --nonce 0102ab tpm-doc.b64
`

// config is what the flags ask for.
type config struct {
	input       string // "" or "-" for stdin
	rootFile    string
	roots       []*x509.Certificate
	at          time.Time
	atDocument  bool
	maxAge      time.Duration
	pcrs        map[int][]byte
	nonce       []byte
	userData    []byte
	publicKey   []byte
	allowDebug  bool
	nitroTPM    bool // --nitrotpm: a NitroTPM document, not an enclave's
	json        bool
	showVersion bool
	help        bool
	connect     string // HOST:PORT with --connect
	anyImage    bool   // --any-image-unsafe: --connect without PCRs pinning the image
}

func usagef(format string, a ...any) error { return cli.Usagef(format, a...) }

// hexFlag records an expected byte string; "" sets an empty, non-nil one.
type hexFlag struct {
	name string
	dst  *[]byte
}

func (h hexFlag) String() string { return "" }

func (h hexFlag) Set(s string) error {
	b, err := decodeHex(s)
	if err != nil {
		return err
	}
	*h.dst = b
	return nil
}

func decodeHex(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("not hex")
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// parseArgs parses the command line; flags and the file may come in any
// order. It reads the --root, --pcrs and --eif files: when one of them
// cannot be read (a *fileReadError) the config parsed so far is returned
// with the error; after any other error it is nil.
func parseArgs(args []string) (*config, error) {
	c := &config{}
	// "nitro-verify help" and "nitro-verify version", alone; a file of
	// that name is still readable as ./help or ./version.
	if len(args) == 1 && args[0] == "help" {
		c.help = true
		return c, nil
	}
	if len(args) == 1 && args[0] == "version" {
		c.showVersion = true
		return c, nil
	}
	fs := flag.NewFlagSet("nitro-verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var at, pcrsFile string
	var maxAge time.Duration
	var pcrFlags []string
	fs.StringVar(&c.rootFile, "root", "", "")
	fs.StringVar(&at, "at", "", "")
	fs.DurationVar(&maxAge, "max-age", 0, "")
	fs.Func("pcr", "", func(s string) error { pcrFlags = append(pcrFlags, s); return nil })
	fs.StringVar(&pcrsFile, "pcrs", "", "")
	var eifFile string
	fs.StringVar(&eifFile, "eif", "", "")
	fs.Var(hexFlag{"nonce", &c.nonce}, "nonce", "")
	fs.Var(hexFlag{"user-data", &c.userData}, "user-data", "")
	fs.Var(hexFlag{"public-key", &c.publicKey}, "public-key", "")
	fs.BoolVar(&c.allowDebug, "allow-debug", false, "")
	fs.BoolVar(&c.nitroTPM, "nitrotpm", false, "")
	fs.BoolVar(&c.json, "json", false, "")
	fs.BoolVar(&c.showVersion, "version", false, "")
	fs.StringVar(&c.connect, "connect", "", "")
	fs.BoolVar(&c.anyImage, "any-image-unsafe", false, "")
	var positional []string
	for {
		if err := cli.ParseFlags(fs, args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.help = true
				return c, nil
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if c.showVersion {
		return c, nil
	}
	if len(positional) > 1 {
		return nil, usagef("one input file at most, got %d: %s", len(positional), strings.Join(positional, " "))
	}
	if len(positional) == 1 {
		c.input = positional[0]
	}
	switch {
	case at == "" || at == "now":
	case at == "document":
		c.atDocument = true
	default:
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return nil, usagef("--at %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or \"document\"", at)
		}
		c.at = t
	}
	if maxAge < 0 {
		return nil, usagef("--max-age %v: must not be negative", maxAge)
	}
	c.maxAge = maxAge
	// The files come last, --root first: when one cannot be read, c is
	// returned with the error, holding the policy read so far, for the
	// --json report (see fileReadError).
	if c.rootFile != "" {
		roots, err := readRoots(c.rootFile)
		if err != nil {
			return c, err
		}
		c.roots = roots
	}
	for _, p := range pcrFlags {
		i, v, err := parsePCRFlag(p)
		if err != nil {
			return nil, err
		}
		if err := addPCR(c, i, v, "--pcr"); err != nil {
			return nil, err
		}
	}
	if pcrsFile != "" {
		m, measurements, err := readPCRsFile(pcrsFile)
		if err != nil {
			return c, err
		}
		if measurements && c.nitroTPM {
			return nil, cli.WithHint(usagef("--nitrotpm: --pcrs %s: an enclave image's measurements (describe-eif's \"Measurements\"), not an instance's NitroTPM PCRs", pcrsFile), hintNitroTPMPCRs)
		}
		idx := make([]int, 0, len(m))
		for i := range m {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		for _, i := range idx {
			if err := addPCR(c, i, m[i], "--pcrs"); err != nil {
				return nil, err
			}
		}
	}
	if eifFile != "" {
		m, err := eifPCRs(eifFile)
		if err != nil {
			return c, err
		}
		for _, i := range []int{0, 1, 2, 8} {
			if v, ok := m[i]; ok {
				if err := addPCR(c, i, v, "--eif"); err != nil {
					return nil, err
				}
			}
		}
	}
	if c.nitroTPM {
		switch {
		case c.allowDebug:
			return nil, usagef("--nitrotpm: --allow-debug does not apply (NitroTPM documents have no debug mode)")
		case eifFile != "":
			return nil, cli.WithHint(usagef("--nitrotpm: --eif gives an enclave image's PCRs, not an instance's NitroTPM PCRs"), hintNitroTPMPCRs)
		case c.connect != "":
			return nil, usagef("--nitrotpm: --connect attests an enclave, not an instance")
		}
	}
	if c.anyImage && c.connect == "" {
		return nil, usagef("--any-image-unsafe applies to --connect only (a document is checked against the PCRs given, if any)")
	}
	if c.connect != "" {
		if err := checkConnectFlags(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func addPCR(c *config, i int, v []byte, from string) error {
	if c.pcrs == nil {
		c.pcrs = map[int][]byte{}
	}
	if old, ok := c.pcrs[i]; ok && !bytes.Equal(old, v) {
		return usagef("%s: PCR%d given twice with different values", from, i)
	}
	c.pcrs[i] = v
	return nil
}

// parsePCRFlag parses "N=HEX" (also "PCRN=HEX").
func parsePCRFlag(s string) (int, []byte, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return 0, nil, usagef("--pcr %q: want N=HEX", s)
	}
	i, err := pcrIndex(k)
	if err != nil {
		return 0, nil, usagef("--pcr %q: %v", s, err)
	}
	b, err := pcrValue(v)
	var le *pcrLengthError
	switch {
	case errors.As(err, &le):
		return 0, nil, cli.WithHint(usagef("--pcr PCR%d: %v", i, err), hintPCRLength)
	case err != nil:
		return 0, nil, usagef("--pcr %q: %v", s, err)
	}
	return i, b, nil
}

func pcrIndex(k string) (int, error) {
	k = strings.TrimPrefix(strings.TrimSpace(k), "PCR")
	i, err := strconv.Atoi(k)
	if err != nil || i < 0 || i > 31 || strconv.Itoa(i) != k {
		return 0, fmt.Errorf("PCR index %q: want 0 to 31", k)
	}
	return i, nil
}

// pcrValue decodes an expected PCR value: hex of attestation.PCRSize (48)
// bytes, the length of every PCR a document may carry (SHA-384); any other
// length could never match, and is a *pcrLengthError.
func pcrValue(v string) ([]byte, error) {
	b, err := decodeHex(v)
	if err != nil {
		return nil, errors.New("value is not hex")
	}
	if len(b) != attestation.PCRSize {
		return nil, &pcrLengthError{n: len(b)}
	}
	return b, nil
}

// pcrLengthError is an expected PCR value of n bytes, not
// attestation.PCRSize.
type pcrLengthError struct{ n int }

func (e *pcrLengthError) Error() string {
	return fmt.Sprintf("the value is %d bytes (%d hex digits), want %d", e.n, 2*e.n, attestation.PCRSize)
}

// hintPCRLength is the hint of an expected PCR value of the wrong length.
const hintPCRLength = "a PCR value is a SHA-384 digest: 48 bytes, 96 hex digits (as nitro-cli describe-eif prints it)"

// maxSideFile bounds --root and --pcrs files.
const maxSideFile = 1 << 20

// Hints for a file that cannot be read: what each flag or argument takes.
const (
	hintDocumentFile = "FILE is the attestation document to verify (raw CBOR, base64 or hex); give - or no FILE to read standard input"
	hintRootFile     = "--root FILE is a PEM file of the root certificate(s) to trust, such as an emulator's; without --root the embedded AWS Nitro root is trusted"
	hintPCRsFile     = `--pcrs FILE is a JSON file of the expected PCRs ({"PCR0":"HEX",...}, or the output of nitro-cli describe-eif); --pcr N=HEX gives one PCR`
	hintEIFFile      = "--eif FILE is the enclave image file the enclave runs (nitro-cli build-enclave's output); --pcrs takes its measurements instead"
	hintMeasureFile  = "measure takes an enclave image file (nitro-cli build-enclave's output)"
	// hintNitroTPMPCRs is the hint of --nitrotpm with an enclave image's
	// PCRs (--eif, or a describe-eif file in --pcrs).
	hintNitroTPMPCRs = `--pcrs and --eif pin an enclave image's PCRs; with --nitrotpm give the instance's NitroTPM PCRs with --pcr N=HEX or a --pcrs file {"PCR4":"HEX",...}`
)

// fileError is the usage error (exit 2) for a file that cannot be opened
// or read: "WHAT NAME: REASON" and a hint, WHAT naming the flag or
// argument. The reason is the system's ("no such file or directory"),
// without Go's "open NAME" prefix.
func fileError(what, name string, err error, hint string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &fileReadError{err: cli.WithHint(cli.Usage(fmt.Errorf("%s %s: %w", what, name, err)), hint)}
}

// fileReadError is a file that could not be opened or read, as opposed to
// one read and refused for its content (a usage error like a bad flag):
// with --json it is an io_error report, whichever file it was.
type fileReadError struct{ err error }

func (e *fileReadError) Error() string { return e.err.Error() }
func (e *fileReadError) Unwrap() error { return e.err }

func readSmallFile(name, flagName, hint string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fileError(flagName, name, err, hint)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSideFile+1))
	if err != nil {
		return nil, fileError(flagName, name, err, hint)
	}
	if len(b) > maxSideFile {
		return nil, fmt.Errorf("%s %s: larger than %d bytes", flagName, name, maxSideFile)
	}
	return b, nil
}

// readPCRsFile reads {"PCR0":"hex",...}, or an object holding such a
// "Measurements" object (nitro-cli describe-eif / build-enclave output,
// an enclave image's measurements: then measurements is true).
// "HashAlgorithm" is ignored; any other key in the PCR object is an error.
func readPCRsFile(name string) (pcrs map[int][]byte, measurements bool, err error) {
	b, err := readSmallFile(name, "--pcrs", hintPCRsFile)
	if err != nil {
		return nil, false, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, false, usagef("--pcrs %s: not a JSON object: %v", name, err)
	}
	if m, ok := top["Measurements"]; ok {
		measurements = true
		top = nil
		if err := json.Unmarshal(m, &top); err != nil {
			return nil, false, usagef("--pcrs %s: Measurements is not a JSON object", name)
		}
	}
	out := map[int][]byte{}
	for k, raw := range top {
		if k == "HashAlgorithm" {
			continue
		}
		if !strings.HasPrefix(k, "PCR") {
			return nil, false, usagef("--pcrs %s: unexpected key %q (want PCR0, PCR1, ...)", name, k)
		}
		i, err := pcrIndex(k)
		if err != nil {
			return nil, false, usagef("--pcrs %s: %v", name, err)
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, false, usagef("--pcrs %s: %s is not a string", name, k)
		}
		v, err := pcrValue(s)
		var le *pcrLengthError
		switch {
		case errors.As(err, &le):
			return nil, false, cli.WithHint(usagef("--pcrs %s: %s: %v", name, k, err), hintPCRLength)
		case err != nil:
			return nil, false, usagef("--pcrs %s: %s: %v", name, k, err)
		}
		out[i] = v
	}
	if len(out) == 0 {
		return nil, false, usagef("--pcrs %s: no PCR values", name)
	}
	return out, measurements, nil
}

// readRoots reads every CERTIFICATE block of a PEM file.
func readRoots(name string) ([]*x509.Certificate, error) {
	b, err := readSmallFile(name, "--root", hintRootFile)
	if err != nil {
		return nil, err
	}
	roots, err := attestation.ParseRootsPEM(b)
	if err != nil {
		return nil, usagef("--root %s: %v", name, err)
	}
	return roots, nil
}
