// SPDX-License-Identifier: Apache-2.0

package cli

import (
	"errors"
	"flag"
	"io"
	"strings"
	"time"
)

// ParseFlags parses args with fs, as fs.Parse does, and reports a mistake
// in the commands' own terms instead of the flag package's: a
// *[UsageError] such as
//
//	unknown flag --bogus
//	--max-age "abc": want a duration such as 5m
//	-w "x": want an integer
//	--root needs a value
//
// naming flags with two dashes (one for a single-letter flag such as -w)
// and saying which form a value takes (an integer, a duration, true or
// false; for a flag.Value of its own, the message of its Set error). -h,
// -help and --help return flag.ErrHelp. fs must have been made with
// flag.ContinueOnError; ParseFlags discards its output. It may be called
// again on the same fs with the arguments after a positional one.
func ParseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	var bad *badValue
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := f.Value.(*checkedValue); ok {
			v.bad = &bad
			return
		}
		f.Value = &checkedValue{Value: f.Value, name: f.Name, bad: &bad}
	})
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	if bad != nil {
		return bad.usageError(strings.HasPrefix(err.Error(), "invalid boolean flag "))
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return Usagef("unknown flag %s", FlagName(name))
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		if f := fs.Lookup(name); f != nil {
			if want := wantedForm(f.Value); want != "" {
				return Usagef("%s needs a value: %s", FlagName(name), want)
			}
		}
		return Usagef("%s needs a value", FlagName(name))
	}
	if arg, ok := strings.CutPrefix(msg, "bad flag syntax: "); ok {
		return Usagef("malformed flag %q", arg)
	}
	// A message this function does not know (a newer flag package):
	// still a usage error, with Go's text.
	return Usagef("%s", msg)
}

// FlagName is how the commands write a flag's name in messages and help:
// "--max-age", or "-w" for a single-letter name.
func FlagName(name string) string {
	if len([]rune(name)) == 1 {
		return "-" + name
	}
	return "--" + name
}

// badValue is a value a flag refused.
type badValue struct {
	name, value string
	form        string // the wanted form, e.g. "a duration such as 5m"; "" for a Value of its own
	err         error
}

// errRangeText is the message of the flag package's errRange.
const errRangeText = "value out of range"

func (b *badValue) usageError(implicit bool) error {
	switch {
	case implicit:
		// A boolean flag given without a value refused "true".
		return Usagef("%s: %v", FlagName(b.name), b.err)
	case b.form != "" && b.err.Error() == errRangeText:
		return Usagef("%s %q: out of range", FlagName(b.name), b.value)
	case b.form != "":
		return Usagef("%s %q: want %s", FlagName(b.name), b.value, b.form)
	}
	return Usagef("%s %q: %v", FlagName(b.name), b.value, b.err)
}

// checkedValue wraps a flag's value to keep the error of a refused value,
// which the flag package only formats into its own message.
type checkedValue struct {
	flag.Value
	name string
	bad  **badValue
}

func (v *checkedValue) Set(s string) error {
	err := v.Value.Set(s)
	if err != nil && *v.bad == nil {
		*v.bad = &badValue{name: v.name, value: s, form: wantedForm(v.Value), err: err}
	}
	return err
}

// IsBoolFlag keeps a boolean flag one that takes no value.
func (v *checkedValue) IsBoolFlag() bool {
	b, ok := v.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// Get returns the wrapped value's Get, or nil.
func (v *checkedValue) Get() any {
	if g, ok := v.Value.(flag.Getter); ok {
		return g.Get()
	}
	return nil
}

// wantedForm says what a value of the flag package's own types looks
// like; "" for a Value of another kind, whose Set error says it.
func wantedForm(v flag.Value) string {
	if c, ok := v.(*checkedValue); ok {
		v = c.Value
	}
	g, ok := v.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case bool:
		return "true or false"
	case int, int64:
		return "an integer"
	case uint, uint64:
		return "a non-negative integer"
	case float64:
		return "a number"
	case time.Duration:
		return "a duration such as 5m"
	}
	return ""
}
