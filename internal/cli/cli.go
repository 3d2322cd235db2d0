// SPDX-License-Identifier: Apache-2.0

package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/enclavekit/enclavekit/internal/transport"
)

// Exit statuses, the same for every command.
const (
	// ExitOK: the command did what was asked (nitro-verify: verified).
	ExitOK = 0
	// ExitFailure: a runtime failure (nitro-verify: the document was
	// rejected).
	ExitFailure = 1
	// ExitUsage: a command-line or configuration mistake; nothing was done.
	ExitUsage = 2
)

// Version describes the build: the module version ("(devel)" for a build
// from a checkout), the VCS revision with "+dirty" when the tree was
// modified, and the Go version, e.g. "v0.3.0 1a2b3c4d5e6f go1.26.8".
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	return versionOf(bi)
}

func versionOf(bi *debug.BuildInfo) string {
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
	if bi.GoVersion != "" {
		v += " " + bi.GoVersion
	}
	return v
}

// IsHelp reports whether arg asks for the help text: "help", "-h",
// "--help" or "-help".
func IsHelp(arg string) bool {
	switch arg {
	case "help", "-h", "--help", "-help":
		return true
	}
	return false
}

// IsVersion reports whether arg asks for the version: "version",
// "--version" or "-version".
func IsVersion(arg string) bool {
	switch arg {
	case "version", "--version", "-version":
		return true
	}
	return false
}

// UsageError is a command-line or configuration mistake: exit status
// [ExitUsage].
type UsageError struct {
	// Msg says what is wrong, naming the flag or configuration key; when
	// empty, Err's message is used.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

func (e *UsageError) Error() string {
	if e.Msg == "" && e.Err != nil {
		return e.Err.Error()
	}
	return e.Msg
}

// Unwrap returns Err.
func (e *UsageError) Unwrap() error { return e.Err }

// Usage marks err as a usage or configuration error (exit status
// [ExitUsage]); nil stays nil.
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return &UsageError{Err: err}
}

// Usagef returns a *[UsageError] with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// HintError is an error with a hint saying what would fix it, in the
// command's own terms (its flags and configuration keys).
type HintError struct {
	Err  error
	Hint string
}

func (e *HintError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *HintError) Unwrap() error { return e.Err }

// WithHint attaches hint to err; nil err stays nil.
func WithHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &HintError{Err: err, Hint: hint}
}

// ExitCode is the exit status for err: [ExitOK] for nil, [ExitUsage] when
// err is or wraps a *[UsageError], [ExitFailure] otherwise.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	return ExitFailure
}

// Program writes a command's messages.
type Program struct {
	// Name is the command's name, the prefix of every message.
	Name string
	// Stdout and Stderr are the command's output streams.
	Stdout, Stderr io.Writer
}

// Errorf writes "NAME: error: MESSAGE" to standard error.
func (p *Program) Errorf(format string, args ...any) {
	p.line("error", fmt.Sprintf(format, args...))
}

// Hintf writes "NAME: hint: MESSAGE" to standard error.
func (p *Program) Hintf(format string, args ...any) {
	p.line("hint", fmt.Sprintf(format, args...))
}

// Warnf writes "NAME: warning: MESSAGE" to standard error.
func (p *Program) Warnf(format string, args ...any) {
	p.line("warning", fmt.Sprintf(format, args...))
}

func (p *Program) line(kind, msg string) {
	// A multi-line message (several configuration problems) gets the
	// prefix on every line, so that each stands alone in a log.
	for _, l := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
		fmt.Fprintf(p.Stderr, "%s: %s: %s\n", p.Name, kind, l)
	}
}

// Fail reports err and returns its exit status (see [ExitCode]): the
// message on "NAME: error:" lines (one per line of a multi-line message,
// such as several configuration problems), then every hint attached with
// [WithHint] anywhere in err's tree; a usage error without a hint ends
// with a pointer to the help.
func (p *Program) Fail(err error) int {
	if err == nil {
		return ExitOK
	}
	p.Errorf("%s", err.Error())
	hints := Hints(err)
	for _, h := range hints {
		p.Hintf("%s", h)
	}
	code := ExitCode(err)
	if code == ExitUsage && len(hints) == 0 {
		p.Hintf("%s", p.UsageHint(""))
	}
	return code
}

// Hints returns the hints attached with [WithHint] anywhere in err's tree,
// in depth-first order, without repeats.
func Hints(err error) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if he, ok := e.(*HintError); ok && he.Hint != "" && !seen[he.Hint] {
			seen[he.Hint] = true
			out = append(out, he.Hint)
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

// PrintVersion writes "NAME VERSION" to standard output.
func (p *Program) PrintVersion() {
	fmt.Fprintf(p.Stdout, "%s %s\n", p.Name, Version())
}

// LogLevels are the words --log-level accepts, in every command.
const LogLevels = "debug, info, warn or error"

// ParseLogLevel parses a --log-level value: debug, info, warn or error.
// A bad value is a *[UsageError] naming the flag.
func ParseLogLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, Usagef("--log-level %q: want %s", s, LogLevels)
}

// ParseAddr parses the value of an address flag or configuration key
// (tcp://HOST:PORT, HOST:PORT, vsock://CID:PORT or unix:///PATH; see
// transport.ParseAddr). A bad value is a *[UsageError] naming it, e.g.
// `--listen "x": want tcp://HOST:PORT, ...`.
func ParseAddr(name, value string) (transport.Addr, error) {
	a, err := transport.ParseAddr(value)
	if err != nil {
		var ae *transport.AddrError
		if errors.As(err, &ae) {
			return a, Usagef("%s %q: %s", name, value, ae.Reason)
		}
		return a, Usagef("%s %q: %v", name, value, err)
	}
	return a, nil
}
