// SPDX-License-Identifier: Apache-2.0

package cli

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionOf(t *testing.T) {
	tests := []struct {
		bi   debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{GoVersion: "go1.26.8"}, "(devel) go1.26.8"},
		{debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3 go1.26.8"},
		{debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}},
			"(devel) 0123456789ab+dirty go1.26.8"},
	}
	for _, tt := range tests {
		if got := versionOf(&tt.bi); got != tt.want {
			t.Errorf("versionOf = %q, want %q", got, tt.want)
		}
	}
	if Version() == "" {
		t.Error("empty Version")
	}
}

func TestParseLogLevel(t *testing.T) {
	for s, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		got, err := ParseLogLevel(s)
		if err != nil || got != want {
			t.Errorf("ParseLogLevel(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"DEBUG", "warning", "info+2", "-4", "loud"} {
		_, err := ParseLogLevel(s)
		var ue *UsageError
		if !errors.As(err, &ue) || err.Error() != fmt.Sprintf("--log-level %q: want debug, info, warn or error", s) {
			t.Errorf("ParseLogLevel(%q): %v", s, err)
		}
	}
}

func TestFail(t *testing.T) {
	var out, errw bytes.Buffer
	p := &Program{Name: "tool", Stdout: &out, Stderr: &errw}
	if code := p.Fail(Usagef("--x: bad")); code != ExitUsage {
		t.Errorf("usage error: exit %d", code)
	}
	if got, want := errw.String(), "tool: error: --x: bad\ntool: hint: run tool --help for usage\n"; got != want {
		t.Errorf("usage error:\n%s\nwant\n%s", got, want)
	}
	errw.Reset()
	err := fmt.Errorf("loading: %w", errors.Join(
		WithHint(errors.New("a.yaml:3: unknown key x"), "see the file's documentation"),
		WithHint(errors.New("b\nc"), "fix b")))
	if code := p.Fail(err); code != ExitFailure {
		t.Errorf("runtime error: exit %d", code)
	}
	want := "tool: error: loading: a.yaml:3: unknown key x\ntool: error: b\ntool: error: c\n" +
		"tool: hint: see the file's documentation\ntool: hint: fix b\n"
	if errw.String() != want {
		t.Errorf("joined errors:\n%s\nwant\n%s", errw.String(), want)
	}
	if p.Fail(nil) != ExitOK {
		t.Error("nil error")
	}
	if ExitCode(WithHint(Usagef("u"), "h")) != ExitUsage {
		t.Error("a hinted usage error is still a usage error")
	}
}

func TestIsHelpVersion(t *testing.T) {
	for _, a := range []string{"help", "-h", "--help", "-help"} {
		if !IsHelp(a) || IsVersion(a) {
			t.Errorf("%q", a)
		}
	}
	for _, a := range []string{"version", "--version", "-version"} {
		if !IsVersion(a) || IsHelp(a) {
			t.Errorf("%q", a)
		}
	}
	if IsHelp("--helpme") || IsVersion("v") {
		t.Error("near misses accepted")
	}
}

func TestHelpArg(t *testing.T) {
	tests := []struct {
		pos  []string
		want error
	}{
		{nil, nil},
		{[]string{"help"}, ErrHelp},
		{[]string{"--help", "x"}, ErrHelp},
		{[]string{"version"}, ErrVersion},
		{[]string{"16", "help"}, nil}, // only the first argument counts
		{[]string{"helpme"}, nil},
	}
	for _, tt := range tests {
		if got := HelpArg(tt.pos); got != tt.want {
			t.Errorf("HelpArg(%q) = %v, want %v", tt.pos, got, tt.want)
		}
	}
}

func TestExit(t *testing.T) {
	var out, errw bytes.Buffer
	p := &Program{Name: "tool", Stdout: &out, Stderr: &errw}
	if code := p.Exit(ErrHelp, "Usage: tool\n"); code != ExitOK || out.String() != "Usage: tool\n" || errw.Len() != 0 {
		t.Errorf("ErrHelp: exit %d, stdout %q, stderr %q", code, out.String(), errw.String())
	}
	out.Reset()
	if code := p.Exit(fmt.Errorf("wrapped: %w", ErrVersion), "Usage: tool\n"); code != ExitOK || !strings.HasPrefix(out.String(), "tool ") || errw.Len() != 0 {
		t.Errorf("ErrVersion: exit %d, stdout %q, stderr %q", code, out.String(), errw.String())
	}
	out.Reset()
	if code := p.Exit(WithHint(Usagef("unknown flag --bogus"), p.UsageHint("sub")), "Usage: tool\n"); code != ExitUsage || out.Len() != 0 ||
		errw.String() != "tool: error: unknown flag --bogus\ntool: hint: run tool sub --help for usage\n" {
		t.Errorf("usage error: exit %d, stdout %q, stderr %q", code, out.String(), errw.String())
	}
}

type shortWriter struct{ err error }

func (w shortWriter) Write(b []byte) (int, error) {
	if len(b) > 0 {
		return len(b) - 1, w.err
	}
	return 0, w.err
}

// TestWriteHelp: WriteHelp writes usage and exits ExitOK; a failed or
// short write is an I/O error (ExitUsage) named on stderr. Exit's help,
// which the other commands use, is unchanged.
func TestWriteHelp(t *testing.T) {
	var out, errw bytes.Buffer
	p := &Program{Name: "tool", Stdout: &out, Stderr: &errw}
	if code := p.WriteHelp("Usage: tool\n"); code != ExitOK || out.String() != "Usage: tool\n" || errw.Len() != 0 {
		t.Errorf("WriteHelp: exit %d, stdout %q, stderr %q", code, out.String(), errw.String())
	}
	for _, w := range []shortWriter{{errors.New("no space left on device")}, {nil}} {
		errw.Reset()
		p.Stdout = w
		want := "tool: error: writing the help: no space left on device\n"
		if w.err == nil {
			want = "tool: error: writing the help: short write\n"
		}
		if code := p.WriteHelp("Usage: tool\n"); code != ExitUsage || errw.String() != want {
			t.Errorf("failed write (%v): exit %d, stderr %q, want %q", w.err, code, errw.String(), want)
		}
		errw.Reset()
		if code := p.Exit(ErrHelp, "Usage: tool\n"); code != ExitOK || errw.Len() != 0 {
			t.Errorf("Exit(ErrHelp) with a failed write (%v): exit %d, stderr %q: changed", w.err, code, errw.String())
		}
	}
}
