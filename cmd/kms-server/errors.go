// SPDX-License-Identifier: Apache-2.0

package main

// Operators' messages: the flag when a flag was given, the configuration
// key when the file was, and no Go package prefixes.

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/enclavekit/enclavekit/host/kmsserver"
	"github.com/enclavekit/enclavekit/host/kmsserver/kmsconfig"
	"github.com/enclavekit/enclavekit/internal/boundedfile"
	"github.com/enclavekit/enclavekit/internal/cli"
	"github.com/enclavekit/enclavekit/internal/strictyaml"
)

// fileProblem says why the file at path could not be read, without
// repeating the path or Go's "open": "no such file or directory", "a
// directory, not a regular file", "larger than 1 MiB: the wrong file?".
func fileProblem(err error) string {
	var pe *fs.PathError
	var be *boundedfile.Error
	switch {
	case errors.As(err, &pe):
		return pe.Err.Error()
	case errors.As(err, &be) && be.Kind != "":
		return fmt.Sprintf("a %s, not a regular file", be.Kind)
	case errors.As(err, &be):
		return fmt.Sprintf("larger than %s: the wrong file?", boundedfile.Size(be.Limit))
	}
	return err.Error()
}

// configFileError is a --config file that could not be read.
func configFileError(path string, err error) error {
	return cli.WithHint(fmt.Errorf("--config %s: %s", path, fileProblem(err)),
		"give the configuration file with --config FILE; kms-server init --dir DIR writes a starter DIR/kms-server.yaml")
}

// certificateError names the TLS certificate and key by the flags when
// they were given (flagCert, flagKey as typed), else by the file's keys.
func certificateError(config, flagCert, flagKey string, ce *kmsconfig.CertificateError) error {
	cert, key, hint := "tls.cert "+ce.CertFile, "tls.key "+ce.KeyFile,
		"tls.cert and tls.key name the KMS listener's PEM certificate (with its chain) and private key, relative to the configuration file"
	prefix := config + ": "
	if flagCert != "" {
		cert, key, hint = "--tls-cert "+flagCert, "--tls-key "+flagKey,
			"--tls-cert and --tls-key name the KMS listener's PEM certificate (with its chain) and private key"
		prefix = ""
	}
	var msg string
	switch ce.File {
	case ce.CertFile:
		msg = cert + ": " + fileProblem(ce.Err)
	case ce.KeyFile:
		msg = key + ": " + fileProblem(ce.Err)
	default:
		// crypto/tls says "tls: private key does not match public key".
		msg = cert + " and " + key + ": " + strings.TrimPrefix(ce.Err.Error(), "tls: ")
	}
	return cli.WithHint(errors.New(prefix+msg), hint)
}

// configHint adds what to do to the configuration errors a user meets
// first.
func configHint(err error) error {
	if errors.Is(err, kmsconfig.ErrNoRootKey) {
		return cli.WithHint(err, "root_key_file names the root key that seals every key in the store: restore it from your backup; "+
			"only for a new, empty key store make one with kms-server init --dir DIR")
	}
	var ye *strictyaml.Error
	if errors.As(err, &ye) && strings.HasPrefix(ye.Key, "attestation.roots") {
		return cli.WithHint(err, "attestation.roots lists PEM files of roots attestation documents may chain to, relative to the configuration file; "+
			"leave it empty to trust only the AWS Nitro Enclaves root")
	}
	return err
}

// listenError names a listener that could not be bound by its flag or
// key and its address as given.
func listenError(o *serveOptions, f *kmsconfig.File, le *kmsserver.ListenError) error {
	name, addr := addrName(o.listen, "--listen", "listen"), f.Listen
	if le.Listener == "metrics" {
		name, addr = addrName(o.metricsListen, "--metrics-listen", "metrics_listen"), f.MetricsListen
	}
	return fmt.Errorf("%s %s: %w", name, addr, le.Err)
}

// serverConfigError says kmsserver's configuration errors in the
// operator's terms where the library cannot: plain HTTP on a listen
// address that is not loopback names --listen or the key listen, as the
// operator chose, and the address as given (not its tcp:// form). The
// other errors pass unchanged; each rewritten one keeps the library's
// error underneath.
func serverConfigError(o *serveOptions, f *kmsconfig.File, err error) error {
	var errs kmsserver.ConfigErrors
	if !errors.As(err, &errs) {
		return err
	}
	out, plain := make(kmsserver.ConfigErrors, len(errs)), false
	for i, e := range errs {
		out[i] = e
		if errors.Is(e, kmsserver.ErrPlainHTTP) {
			out[i] = &messageError{err: e, msg: fmt.Sprintf("%s %s: plain HTTP on an address that is not loopback", addrName(o.listen, "--listen", "listen"), f.Listen)}
			plain = true
		}
	}
	if !plain {
		return err
	}
	return cli.WithHint(out, "configure TLS (--tls-cert and --tls-key, or tls: cert and key in the configuration file), "+
		"or allow plain HTTP explicitly with insecure_http_unsafe: true in the configuration file")
}

// packagePrefixes are the Go package prefixes library errors carry,
// longest first; operators are shown the message without them.
var packagePrefixes = []string{"kmsconfig: invalid configuration: ", "kmsconfig: ", "kmsserver: "}

// operatorError strips Go package prefixes from err's message wherever a
// wrapped message starts ([cli.TrimPrefixes]: at the start of a line,
// after "WHAT: " or "("; not inside quotes), keeping err (its exit status
// and hints) underneath.
func operatorError(err error) error {
	if err == nil {
		return nil
	}
	if msg := cli.TrimPrefixes(err.Error(), packagePrefixes); msg != err.Error() {
		return &messageError{msg: msg, err: err}
	}
	return err
}

// messageError is err shown with another message.
type messageError struct {
	msg string
	err error
}

func (e *messageError) Error() string { return e.msg }
func (e *messageError) Unwrap() error { return e.err }
