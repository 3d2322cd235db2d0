// SPDX-License-Identifier: Apache-2.0

package verifycli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/internal/cli"
	"github.com/enclavekit/enclavekit/internal/quote"
)

// Exit codes.
const (
	ExitVerified = cli.ExitOK
	ExitRejected = cli.ExitFailure
	ExitUsage    = cli.ExitUsage
)

// CodeIOError is the error.code of a --json report when the input or a
// --root, --pcrs or --eif file could not be read, or the --connect
// listener not reached or not heard (exit status 2): nothing was verified.
const CodeIOError = "io_error"

// commands is the dispatch table of nitro-verify's subcommands; without
// one of them, it verifies a document.
var commands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"measure": runMeasure,
}

// Commands returns the names of nitro-verify's subcommands, sorted, for
// the tests that check every one of them.
func Commands() []string {
	return slices.Sorted(maps.Keys(commands))
}

// Main runs nitro-verify with args (without the program name) and returns
// its exit code. The clock is read once, here.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return Run(args, stdin, stdout, stderr, time.Now())
}

// Run is [Main] with the current time given.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer, now time.Time) (exit int) {
	p := &cli.Program{Name: "nitro-verify", Stdout: stdout, Stderr: stderr}
	defer func() {
		// attestation.Verify must never panic; if it ever does, fail closed
		// with a message instead of a stack trace, and not as "verified".
		if r := recover(); r != nil {
			p.Errorf("internal error (please report): %v", r)
			exit = ExitUsage
		}
	}()
	if len(args) > 0 {
		if cmd, ok := commands[args[0]]; ok {
			return cmd(args[1:], stdout, stderr)
		}
	}
	c, err := parseArgs(args)
	if err != nil {
		p.Fail(err)
		var fe *fileReadError
		if c != nil && c.json && errors.As(err, &fe) {
			// An unreadable --root, --pcrs or --eif file: reported as an
			// unreadable input is, with the policy read so far.
			rep := newReport(c, c.time(now))
			rep.Error = ioErrorReport(err)
			return writeJSON(p, rep, ExitUsage)
		}
		return ExitUsage // a bad flag, or a --root, --pcrs or --eif file refused
	}
	if c.help {
		return p.WriteHelp(usage) // exit 2 when it cannot be written, as a report
	}
	if c.showVersion {
		p.PrintVersion()
		return ExitVerified
	}

	if c.connect != "" {
		return runConnect(c, stdout, stderr, now)
	}

	at := c.time(now)
	rep := newReport(c, at)
	raw, err := readInput(c.input, stdin)
	if err != nil && !errors.Is(err, ErrTooLarge) {
		p.Fail(err)
		if c.json {
			rep.Error = ioErrorReport(err)
			return writeJSON(p, rep, ExitUsage)
		}
		return ExitUsage
	}

	opts := attestation.Options{
		Roots: c.roots, CurrentTime: at, AtDocumentTime: c.atDocument, MaxAge: c.maxAge,
		PCRs: c.pcrs, Nonce: c.nonce, UserData: c.userData, PublicKey: c.publicKey, AllowDebugUnsafe: c.allowDebug,
	}

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
		return reject(p, c, rep, err)
	}

	doc, err := verifyDocument(c, data, opts)
	if err != nil {
		switch attestation.ErrorCode(err) {
		case "", attestation.CodeInvalidOptions:
			p.Errorf("%s", message(err))
			return ExitUsage
		}
		if d := parseDocument(c, data); d != nil {
			rep.Document = documentReport(d, c.pcrs)
			rep.Document.Debug = rep.Document.Debug && !c.nitroTPM
		}
		return reject(p, c, rep, err)
	}
	rep.Verified = true
	rep.Document = documentReport(doc, c.pcrs)
	rep.Document.Debug = rep.Document.Debug && !c.nitroTPM
	if c.json {
		return writeJSON(p, rep, ExitVerified)
	}
	return writeTextReport(p, func(w io.Writer) { writeText(w, doc, c, &rep.Verification) })
}

// time is the verification time: --at, or now.
func (c *config) time(now time.Time) time.Time {
	if !c.at.IsZero() {
		return c.at
	}
	return now
}

// ioErrorReport is the report's error for a file or input that could not
// be read: nothing was verified.
func ioErrorReport(err error) *ReportError {
	return &ReportError{Code: CodeIOError, Message: err.Error(), Hint: strings.Join(cli.Hints(err), "; ")}
}

// verifyDocument verifies an enclave document, or with --nitrotpm a
// NitroTPM document, whose fields the report shows in the same shape.
func verifyDocument(c *config, data []byte, opts attestation.Options) (*attestation.Document, error) {
	if !c.nitroTPM {
		return attestation.Verify(data, opts)
	}
	d, err := attestation.VerifyNitroTPM(data, opts)
	return (*attestation.Document)(d), err
}

// parseDocument decodes the document of a rejection for the report, or
// returns nil.
func parseDocument(c *config, data []byte) *attestation.Document {
	if !c.nitroTPM {
		d, _ := attestation.Parse(data)
		return d
	}
	d, _ := attestation.ParseNitroTPM(data)
	return (*attestation.Document)(d)
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
		return nil, fileError("the document argument", name, err, hintDocumentFile)
	}
	defer f.Close()
	b, err := ReadInput(f)
	if err != nil && !errors.Is(err, ErrTooLarge) {
		return nil, fileError("the document argument", name, err, hintDocumentFile)
	}
	return b, err
}

// reject reports err on stderr (and as JSON on stdout with --json).
func reject(p *cli.Program, c *config, rep *Report, err error) int {
	rep.Error = errorReport(err, c)
	// The message quotes the document's values with %q already; it is
	// escaped once more, as the text report is, in case one did not.
	p.Errorf("%s: %s", rep.Error.Code, quote.Controls(rep.Error.Message))
	for _, m := range rep.Error.PCRMismatches {
		actual := "absent"
		if m.Actual != nil {
			actual = *m.Actual
		}
		fmt.Fprintf(p.Stderr, "  PCR%-2d expected %s\n        actual   %s\n", m.Index, m.Expected, actual)
	}
	var mm *attestation.MismatchError
	if errors.As(err, &mm) {
		fmt.Fprintf(p.Stderr, "  expected %s\n  actual   %s\n", short(mm.Want), short(mm.Got))
	}
	if rep.Error.Hint != "" {
		p.Hintf("%s", rep.Error.Hint)
	}
	if c.json {
		return writeJSON(p, rep, ExitRejected)
	}
	return ExitRejected
}

func writeJSON(p *cli.Program, rep *Report, exit int) int {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err == nil {
		_, err = p.Stdout.Write(append(escapeJSONControls(b), '\n'))
	}
	if err != nil {
		p.Errorf("writing the report: %v", err)
		return ExitUsage
	}
	return exit
}

// kind is the kind of document c verifies: KindNitroTPM or
// KindNitroEnclave.
func (c *config) kind() string {
	if c.nitroTPM {
		return KindNitroTPM
	}
	return KindNitroEnclave
}

// newReport starts the report of a verification with policy c at at.
func newReport(c *config, at time.Time) *Report {
	return &Report{MediaType: MediaType, Kind: c.kind(), Verification: policyReport(c, at)}
}

func policyReport(c *config, at time.Time) ReportPolicy {
	p := ReportPolicy{Kind: c.kind(), Time: rfc3339(at), AtDocumentTime: c.atDocument, AllowDebug: c.allowDebug,
		AnyImageUnsafe: c.anyImageUnpinned(), Nonce: hexPtr(c.nonce), UserData: hexPtr(c.userData), PublicKey: hexPtr(c.publicKey)}
	if c.maxAge > 0 {
		p.MaxAge = c.maxAge.String()
	}
	roots := c.roots
	if roots == nil && c.rootFile == "" {
		// (With an unread --root file there are none: roots is null.)
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
