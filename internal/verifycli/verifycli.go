// SPDX-License-Identifier: Apache-2.0

package verifycli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
)

// Exit codes.
const (
	ExitVerified = 0
	ExitRejected = 1
	ExitUsage    = 2
)

// Main runs nitro-verify with args (without the program name) and returns
// its exit code. The clock is read once, here.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return Run(args, stdin, stdout, stderr, time.Now())
}

// Run is [Main] with the current time given.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer, now time.Time) (exit int) {
	defer func() {
		// attestation.Verify must never panic; if it ever does, fail closed
		// with a message instead of a stack trace, and not as "verified".
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "nitro-verify: error: internal error (please report): %v\n", r)
			exit = ExitUsage
		}
	}()
	if len(args) > 0 && args[0] == "measure" {
		return runMeasure(args[1:], stdout, stderr)
	}
	c, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "nitro-verify: error: %v\n", err)
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "hint: run nitro-verify --help for usage\n")
		}
		return ExitUsage
	}
	if c.help {
		io.WriteString(stdout, usage)
		return ExitVerified
	}
	if c.showVersion {
		fmt.Fprintf(stdout, "nitro-verify %s\n", version())
		return ExitVerified
	}

	if c.connect != "" {
		return runConnect(c, stdout, stderr, now)
	}
	raw, err := readInput(c.input, stdin)
	if err != nil && !errors.Is(err, ErrTooLarge) {
		fmt.Fprintf(stderr, "nitro-verify: error: %v\n", err)
		return ExitUsage
	}

	at := now
	if !c.at.IsZero() {
		at = c.at
	}
	opts := attestation.Options{
		Roots: c.roots, CurrentTime: at, AtDocumentTime: c.atDocument, MaxAge: c.maxAge,
		PCRs: c.pcrs, Nonce: c.nonce, UserData: c.userData, PublicKey: c.publicKey, AllowDebugUnsafe: c.allowDebug,
	}
	rep := &Report{MediaType: MediaType, Verification: policyReport(c, at)}

	var data []byte
	if err == nil {
		var enc Encoding
		data, enc, err = Decode(raw)
		if err == nil {
			rep.Input = &ReportInput{Encoding: enc, Size: len(data)}
		}
	}
	if err != nil {
		err = &attestation.MalformedError{Field: "input", Reason: err.Error()}
		return reject(stdout, stderr, c, rep, err)
	}

	doc, err := attestation.Verify(data, opts)
	if err != nil {
		switch attestation.ErrorCode(err) {
		case "", attestation.CodeInvalidOptions:
			fmt.Fprintf(stderr, "nitro-verify: error: %v\n", err)
			return ExitUsage
		}
		if d, perr := attestation.Parse(data); perr == nil {
			rep.Document = documentReport(d, c.pcrs)
		}
		return reject(stdout, stderr, c, rep, err)
	}
	rep.Verified = true
	rep.Document = documentReport(doc, c.pcrs)
	if c.json {
		return writeJSON(stdout, stderr, rep, ExitVerified)
	}
	writeText(stdout, doc, c, &rep.Verification)
	return ExitVerified
}

func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "" || name == "-" {
		b, err := ReadInput(stdin)
		if err != nil && !errors.Is(err, ErrTooLarge) {
			return nil, fmt.Errorf("reading standard input: %w", err)
		}
		return b, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := ReadInput(f)
	if err != nil && !errors.Is(err, ErrTooLarge) {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return b, err
}

// reject reports err on stderr (and as JSON on stdout with --json).
func reject(stdout, stderr io.Writer, c *config, rep *Report, err error) int {
	rep.Error = errorReport(err, c)
	fmt.Fprintf(stderr, "nitro-verify: error: %s: %s\n", rep.Error.Code, rep.Error.Message)
	for _, m := range rep.Error.PCRMismatches {
		actual := "absent"
		if m.Actual != nil {
			actual = *m.Actual
		}
		fmt.Fprintf(stderr, "  PCR%-2d expected %s\n        actual   %s\n", m.Index, m.Expected, actual)
	}
	var mm *attestation.MismatchError
	if errors.As(err, &mm) {
		fmt.Fprintf(stderr, "  expected %s\n  actual   %s\n", short(mm.Want), short(mm.Got))
	}
	if rep.Error.Hint != "" {
		fmt.Fprintf(stderr, "hint: %s\n", rep.Error.Hint)
	}
	if c.json {
		return writeJSON(stdout, stderr, rep, ExitRejected)
	}
	return ExitRejected
}

func writeJSON(stdout, stderr io.Writer, rep *Report, exit int) int {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err == nil {
		_, err = stdout.Write(append(b, '\n'))
	}
	if err != nil {
		fmt.Fprintf(stderr, "nitro-verify: error: writing the report: %v\n", err)
		return ExitUsage
	}
	return exit
}

func policyReport(c *config, at time.Time) ReportPolicy {
	p := ReportPolicy{Time: rfc3339(at), AtDocumentTime: c.atDocument, AllowDebug: c.allowDebug,
		Nonce: hexPtr(c.nonce), UserData: hexPtr(c.userData), PublicKey: hexPtr(c.publicKey)}
	if c.maxAge > 0 {
		p.MaxAge = c.maxAge.String()
	}
	roots := c.roots
	if roots == nil {
		roots = append(roots, attestation.AWSNitroRootG1())
	}
	for _, r := range roots {
		sum := sha256.Sum256(r.Raw)
		p.Roots = append(p.Roots, ReportRoot{Subject: r.Subject.String(), SHA256: hex.EncodeToString(sum[:])})
	}
	for i := range c.pcrs {
		p.ExpectedPCRs = append(p.ExpectedPCRs, i)
	}
	sort.Ints(p.ExpectedPCRs)
	return p
}

// version describes the build: module version, VCS revision and Go version.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " " + rev + modified
	}
	return v + " " + bi.GoVersion
}
