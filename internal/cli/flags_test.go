// SPDX-License-Identifier: Apache-2.0

package cli

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// hexValue is a custom flag value whose Set error is its own message.
type hexValue struct{}

func (hexValue) String() string     { return "" }
func (hexValue) Set(s string) error { return errors.New("not hex") }

func testFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("root", "", "")
	fs.Duration("max-age", 0, "")
	fs.Int("w", 0, "")
	fs.Int("num_workers", 0, "")
	fs.Int64("big", 0, "")
	fs.Uint("count", 0, "")
	fs.Uint64("size", 0, "")
	fs.Float64("ratio", 0, "")
	fs.Bool("json", false, "")
	fs.Bool("4", false, "")
	fs.Var(hexValue{}, "nonce", "")
	fs.Func("pcr", "", func(string) error { return errors.New("want N=HEX") })
	fs.BoolFunc("trace", "", func(string) error { return errors.New("tracing is not built in") })
	return fs
}

func TestParseFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "unknown flag --bogus"},
		{[]string{"-bogus"}, "unknown flag --bogus"},
		{[]string{"-x"}, "unknown flag -x"},
		{[]string{"--x=1"}, "unknown flag -x"},
		{[]string{"---x"}, `malformed flag "---x"`},
		{[]string{"-=x"}, `malformed flag "-=x"`},
		{[]string{"--max-age", "abc"}, `--max-age "abc": want a duration such as 5m`},
		{[]string{"-max-age=5 minutes"}, `--max-age "5 minutes": want a duration such as 5m`},
		{[]string{"-w", "abc"}, `-w "abc": want an integer`},
		{[]string{"--num_workers", "1.5"}, `--num_workers "1.5": want an integer`},
		{[]string{"-w", "99999999999999999999"}, `-w "99999999999999999999": out of range`},
		{[]string{"--big", "x"}, `--big "x": want an integer`},
		{[]string{"--count", "-1"}, `--count "-1": want a non-negative integer`},
		{[]string{"--size", "x"}, `--size "x": want a non-negative integer`},
		{[]string{"--ratio", "x"}, `--ratio "x": want a number`},
		{[]string{"--json=maybe"}, `--json "maybe": want true or false`},
		{[]string{"-4=2"}, `-4 "2": want true or false`},
		{[]string{"--nonce", "zz"}, `--nonce "zz": not hex`},
		{[]string{"--pcr", "0:aa"}, `--pcr "0:aa": want N=HEX`},
		{[]string{"--trace"}, `--trace: tracing is not built in`},
		{[]string{"--root"}, "--root needs a value"},
		{[]string{"--max-age"}, "--max-age needs a value: a duration such as 5m"},
		{[]string{"-w"}, "-w needs a value: an integer"},
	} {
		fs := testFlagSet()
		err := ParseFlags(fs, tt.args)
		var ue *UsageError
		if !errors.As(err, &ue) || err.Error() != tt.want {
			t.Errorf("ParseFlags(%q) = %v, want usage error %q", tt.args, err, tt.want)
		}
	}

	for _, h := range []string{"-h", "--help", "-help"} {
		if err := ParseFlags(testFlagSet(), []string{h}); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("ParseFlags(%q) = %v, want flag.ErrHelp", h, err)
		}
	}

	// Good values still land where they were registered, and parsing
	// again (flags after positional arguments) works.
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	age := fs.Duration("max-age", 0, "")
	w := fs.Int("w", 0, "")
	j := fs.Bool("json", false, "")
	if err := ParseFlags(fs, []string{"--max-age", "5m", "FILE", "-w", "3"}); err != nil {
		t.Fatal(err)
	}
	if err := ParseFlags(fs, fs.Args()[1:]); err != nil {
		t.Fatal(err)
	}
	if err := ParseFlags(fs, []string{"--json", "--bogus"}); err == nil || err.Error() != "unknown flag --bogus" {
		t.Errorf("second parse: %v", err)
	}
	if *age != 5*time.Minute || *w != 3 || !*j {
		t.Errorf("values: %v %v %v", *age, *w, *j)
	}
	if v, ok := fs.Lookup("max-age").Value.(flag.Getter); !ok || v.Get() != 5*time.Minute {
		t.Errorf("Get through the wrapper: %v", v)
	}
}

func TestFailUnknownFlag(t *testing.T) {
	var errw strings.Builder
	p := &Program{Name: "tool", Stdout: io.Discard, Stderr: &errw}
	if code := p.Fail(ParseFlags(testFlagSet(), []string{"--bogus"})); code != ExitUsage {
		t.Errorf("exit %d", code)
	}
	if got, want := errw.String(), "tool: error: unknown flag --bogus\ntool: hint: run tool --help for usage\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
