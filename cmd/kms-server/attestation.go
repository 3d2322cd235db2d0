// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
)

// attestationMessage words a refused Recipient document in kms-server's
// terms: the facts from the typed error, and the setting of kms-server.yaml
// that would change the outcome, never the library's option names. It is
// the ValidationException message the client sees (after the error code)
// and what the audit log records.
func attestationMessage(err error) string {
	var ce *attestation.ChainError
	var ve *attestation.ValidityError
	var fe *attestation.FreshnessError
	var de *attestation.DebugModeError
	switch {
	case errors.As(err, &ce) && ce.UntrustedRoot != "":
		return fmt.Sprintf("cabundle[0] %q is not a trusted root; kms-server trusts the roots listed in attestation.roots "+
			"of kms-server.yaml (the AWS Nitro Enclaves root when the list is empty): add this root's PEM file there only if you trust it", ce.UntrustedRoot)
	case errors.As(err, &ve):
		what := "not yet valid"
		if ve.Expired() {
			what = "expired"
		}
		return fmt.Sprintf("certificate %s: %s %q is valid from %s to %s, request time %s; send a fresh document", what, ve.Position, ve.Subject,
			ve.NotBefore.UTC().Format(time.RFC3339), ve.NotAfter.UTC().Format(time.RFC3339), ve.At.UTC().Format(time.RFC3339))
	case errors.As(err, &fe) && !fe.Future:
		return fmt.Sprintf("document too old: timestamp %s is %s before the request time, more than attestation.max_age (%s) in kms-server.yaml; send a fresh document",
			fe.Timestamp.UTC().Format(time.RFC3339Nano), fe.At.Sub(fe.Timestamp).Round(time.Millisecond), fe.Limit)
	case errors.As(err, &fe):
		return fmt.Sprintf("document from the future: timestamp %s is %s after the request time (allowed skew %s); check the clocks",
			fe.Timestamp.UTC().Format(time.RFC3339Nano), fe.Timestamp.Sub(fe.At).Round(time.Millisecond), fe.Limit)
	case errors.As(err, &de):
		return "debug-mode enclave: PCR0, PCR1 and PCR2 are all zero, so its memory is readable from the parent instance; " +
			"kms-server accepts such documents only with attestation.allow_debug_unsafe: true in kms-server.yaml (development only)"
	}
	return strings.TrimPrefix(err.Error(), "attestation: ")
}
