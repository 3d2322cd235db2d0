// SPDX-License-Identifier: Apache-2.0

package attestation_test

import (
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
)

// TestValidityErrorMessage pins ValidityError's words: Facts, the one
// place they are spelled (attestedtls and nitro-verify reuse it with
// advice of their own), and Error, Facts with the package's prefix and
// advice.
func TestValidityErrorMessage(t *testing.T) {
	nb := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	na := nb.Add(3 * time.Hour)
	ve := func(at time.Time, atDoc bool) *attestation.ValidityError {
		return &attestation.ValidityError{Subject: "CN=i-0123.eu-west-1.aws", Position: "certificate",
			NotBefore: nb, NotAfter: na, At: at, AtDocumentTime: atDoc}
	}
	for _, tc := range []struct {
		err          *attestation.ValidityError
		facts, error string
	}{{
		ve(na.Add(time.Second+time.Millisecond), false),
		`certificate expired: certificate "CN=i-0123.eu-west-1.aws" is valid from 2026-11-28T09:00:00Z to 2026-11-28T12:00:00Z, verification time 2026-11-28T12:00:01.001Z`,
		`attestation: certificate expired: certificate "CN=i-0123.eu-west-1.aws" is valid from 2026-11-28T09:00:00Z to 2026-11-28T12:00:00Z, verification time 2026-11-28T12:00:01.001Z; set Options.AtDocumentTime to verify an archived document at its own time`,
	}, {
		ve(nb.Add(-time.Minute), false),
		`certificate not yet valid: certificate "CN=i-0123.eu-west-1.aws" is valid from 2026-11-28T09:00:00Z to 2026-11-28T12:00:00Z, verification time 2026-11-28T08:59:00Z`,
		`attestation: certificate not yet valid: certificate "CN=i-0123.eu-west-1.aws" is valid from 2026-11-28T09:00:00Z to 2026-11-28T12:00:00Z, verification time 2026-11-28T08:59:00Z; check the verifier's clock, or set Options.AtDocumentTime`,
	}, {
		ve(na.Add(time.Hour), true),
		`certificate expired: certificate "CN=i-0123.eu-west-1.aws" is valid from 2026-11-28T09:00:00Z to 2026-11-28T12:00:00Z, verification time 2026-11-28T13:00:00Z (the document's own timestamp)`,
		`attestation: certificate expired: certificate "CN=i-0123.eu-west-1.aws" is valid from 2026-11-28T09:00:00Z to 2026-11-28T12:00:00Z, verification time 2026-11-28T13:00:00Z (the document's own timestamp)`,
	}} {
		if got := tc.err.Facts(); got != tc.facts {
			t.Errorf("Facts:\n got %s\nwant %s", got, tc.facts)
		}
		if got := tc.err.Error(); got != tc.error {
			t.Errorf("Error:\n got %s\nwant %s", got, tc.error)
		}
	}
}
