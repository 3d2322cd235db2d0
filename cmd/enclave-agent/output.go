// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/enclavekit/enclavekit/enclave/boot"
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

// checkSecretStdout refuses, before anything is asked of KMS, to write
// the key material of cmd (field, in the JSON) to stdout when stdout is one
// of the pipes init --logs-to forwards to the parent instance (named in
// ENCLAVE_AGENT_FORWARDED_PIPES, which init sets for its application): the
// parent would get the key. A stdout the application gave this command
// (a pipe of its own, a file) is another file, and is written.
func (a *app) checkSecretStdout(cmd, field string, o *outputFlags) error {
	if o.out != "" && o.out != "-" {
		return nil
	}
	fwd := a.getenv(envForwardedPipes)
	if fwd == "" {
		return nil
	}
	f, ok := a.stdout.(*os.File)
	if !ok {
		return nil // not a file descriptor: not one init handed down
	}
	id, err := boot.FileID(f)
	if err == nil && !slices.Contains(strings.Split(fwd, ","), id) {
		return nil
	}
	msg := fmt.Sprintf("%s: stdout is forwarded to the parent instance by init --logs-to: %s would reach it", cmd, field)
	if err != nil {
		msg = fmt.Sprintf("%s: init --logs-to forwards output to the parent instance, and stdout cannot be told apart from it (%v): %s would reach it", cmd, err, field)
	}
	return cli.WithHint(usagef("%s", msg),
		"write it to a file with --out FILE (mode 0600), or read this command's output through a pipe of the application's own (KEY=$(enclave-agent "+cmd+" ...), a subprocess); init forwards only what the application itself writes to its stdout and stderr")
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
