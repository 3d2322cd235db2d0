// SPDX-License-Identifier: Apache-2.0

package emulator

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/enclavekit/enclavekit/enclave"
)

// MeasurementsError is ParseMeasurements' refusal of a file: Reason says
// what is wrong in the file's own terms (JSON, its keys and values). It
// matches [ErrConfig].
type MeasurementsError struct{ Reason string }

func (e *MeasurementsError) Error() string { return ErrConfig.Error() + ": measurements: " + e.Reason }

// Is matches [ErrConfig].
func (e *MeasurementsError) Is(target error) bool { return target == ErrConfig }

func measurementsErr(format string, args ...any) error {
	return &MeasurementsError{Reason: fmt.Sprintf(format, args...)}
}

// ParseMeasurements reads image measurements as `nitro-cli describe-eif`
// and `nitro-cli build-enclave` print them: either their whole JSON output
// (the "Measurements" object is used, other keys ignored) or the
// Measurements object alone, {"HashAlgorithm": "Sha384 { ... }", "PCR0":
// "hex", "PCR1": ..., "PCR2": ..., "PCR8": ...}. It returns the PCRs by
// index, for [Config.PCRs]. Values must be 48 bytes of hex; indices 0-15.
// A file it refuses is a [*MeasurementsError].
func ParseMeasurements(data []byte) (map[int][]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, measurementsErr("%s", jsonProblem(data, err))
	}
	if m, ok := top["Measurements"]; ok {
		top = nil
		if err := json.Unmarshal(m, &top); err != nil {
			return nil, measurementsErr("Measurements: %s", jsonProblem(m, err))
		}
	}
	pcrs := make(map[int][]byte)
	for k, raw := range top {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, measurementsErr("%s is not a string", k)
		}
		if k == "HashAlgorithm" {
			if !strings.HasPrefix(strings.ToLower(s), "sha384") {
				return nil, measurementsErr("hash algorithm %q, want Sha384", s)
			}
			continue
		}
		n, ok := strings.CutPrefix(k, "PCR")
		if !ok {
			return nil, measurementsErr("unknown key %q", k)
		}
		i, err := strconv.Atoi(n)
		if err != nil || i < 0 || i >= enclave.BootLockedPCRs || strconv.Itoa(i) != n {
			return nil, measurementsErr("bad PCR key %q (PCR0-PCR15)", k)
		}
		v, err := ParsePCRHex(s)
		if err != nil {
			return nil, measurementsErr("%s: %v", k, err)
		}
		pcrs[i] = v
	}
	if len(pcrs) == 0 {
		return nil, measurementsErr("no PCR values")
	}
	return pcrs, nil
}

// ParsePCRHex decodes a 48-byte PCR value written in hex (either case).
// Its errors say what is wanted ("not hex: want 96 hex digits (48
// bytes)", "2 bytes, want 48 (96 hex digits)"), for a caller to prefix
// with where the value came from.
func ParsePCRHex(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	v, err := hex.DecodeString(s)
	switch {
	case errors.Is(err, hex.ErrLength):
		return nil, fmt.Errorf("%d hex digits, want %d (%d bytes)", len(s), 2*enclave.PCRSize, enclave.PCRSize)
	case err != nil:
		return nil, fmt.Errorf("not hex: want %d hex digits (%d bytes)", 2*enclave.PCRSize, enclave.PCRSize)
	case len(v) != enclave.PCRSize:
		return nil, fmt.Errorf("%d bytes, want %d (%d hex digits)", len(v), enclave.PCRSize, 2*enclave.PCRSize)
	}
	return v, nil
}

// jsonProblem describes err, from decoding data into a JSON object, in
// JSON's terms for whoever wrote the file: where a syntax error is (line
// and column, counted from 1, in bytes), what was found and what was
// wanted, and which JSON type was given for the object, never the
// decoder's jargon ("looking for beginning of object key string") or Go's
// type names ("map[string]json.RawMessage").
func jsonProblem(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return "empty: want a JSON object"
	case errors.As(err, &te):
		got, _, _ := strings.Cut(te.Value, " ") // "number 1.5"
		switch got {
		case "array", "object":
			got = "an " + got
		case "bool":
			got = "a boolean"
		default:
			got = "a " + got
		}
		return "want a JSON object, got " + got
	case !errors.As(err, &se):
		return err.Error()
	case se.Offset >= int64(len(data)) && !strings.HasPrefix(se.Error(), "invalid character"):
		return "not valid JSON: the file ends before the JSON value does"
	}
	// Offset counts the bytes read, the offending one included.
	before := data[:max(se.Offset-1, 0)]
	line := 1 + bytes.Count(before, []byte("\n"))
	col := 1 + len(before) - (bytes.LastIndexByte(before, '\n') + 1)
	return fmt.Sprintf("not valid JSON: line %d, column %d: %s", line, col, syntaxReason(se.Error()))
}

// syntaxReason rewords encoding/json's syntax error messages ("invalid
// character 'x' after object key") as what was found and what was wanted.
// Messages it does not know pass unchanged.
func syntaxReason(msg string) string {
	rest, ok := strings.CutPrefix(msg, "invalid character ")
	if !ok {
		return msg
	}
	for _, r := range []struct{ context, says string }{
		{"looking for beginning of value", "where a value should be"},
		{"looking for beginning of object key string", "where a member name (a quoted string) should be"},
		{"after object key:value pair", "after a member, want ',' or '}'"},
		{"after object key", "after a member name, want ':'"},
		{"after array element", "after an array element, want ',' or ']'"},
		{"after top-level value", "after the JSON value"},
		{"in string literal", "in a string (control characters must be escaped)"},
	} {
		if char, ok := strings.CutSuffix(rest, " "+r.context); ok {
			return "unexpected " + char + " " + r.says
		}
	}
	return msg
}
