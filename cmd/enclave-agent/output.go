// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/enclavekit/enclavekit/internal/atomicfile"
	"github.com/enclavekit/enclavekit/internal/cli"
)

// output writes b to the file given with --out (0600) or to stdout.
func (a *app) output(file string, b []byte) error { return a.outputMode(file, b, 0o600) }

// outputMode writes b to the file given with --out with mode perm, or to
// stdout.
func (a *app) outputMode(file string, b []byte, perm os.FileMode) error {
	if file == "" || file == "-" {
		_, err := a.stdout.Write(b)
		return err
	}
	return writeFile("--out", file, b, perm)
}

type outputFlags struct{ format, out string }

func (o *outputFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.format, "format", "json", "")
	fs.StringVar(&o.out, "out", "", "")
}

func (o *outputFlags) check(cmd string) error {
	switch o.format {
	case "json":
	case "raw":
		if o.out == "" || o.out == "-" {
			return usagef("%s: --format raw needs --out FILE (raw key material is not written to stdout)", cmd)
		}
	default:
		return usagef("%s: --format %q: want json or raw", cmd, o.format)
	}
	return nil
}

// emit writes the JSON object v, or the raw bytes, as the flags say.
func (a *app) emit(o *outputFlags, v any, raw []byte) error {
	if o.format == "raw" {
		return a.output(o.out, raw)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return a.output(o.out, append(b, '\n'))
}

func (a *app) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = a.stdout.Write(append(b, '\n'))
	return err
}

// writeFile writes data to name, given with flag, through a temporary file
// fsynced and renamed into place (then the directory fsynced), with mode
// perm: after a power loss name holds the old content or the new, never an
// empty file. Its errors name the flag and name,
// never the temporary file.
func writeFile(flag, name string, data []byte, perm os.FileMode) error {
	err := atomicfile.Write(name, data, perm)
	if err == nil {
		return nil
	}
	// The operating system's reason only: its path is the temporary
	// file's. A rename onto a directory says "file exists".
	var pe *os.PathError
	var le *os.LinkError
	if fi, serr := os.Stat(name); serr == nil && fi.IsDir() {
		err = errors.New("is a directory")
	} else if errors.As(err, &pe) {
		err = pe.Err
	} else if errors.As(err, &le) {
		err = le.Err
	}
	return cli.WithHint(fmt.Errorf("%s %s: %w", flag, name, err),
		flag+" FILE is written to a temporary file in FILE's directory, then renamed over FILE: the directory must exist and be writable")
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
