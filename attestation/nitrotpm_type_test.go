// SPDX-License-Identifier: Apache-2.0

package attestation_test

import (
	"testing"

	"github.com/enclavekit/enclavekit/attestation"
)

// TestNitroTPMDocumentIsItsOwnType: NitroTPMDocument is defined from
// Document (the same fields) but must stay a type of its own. Were it an
// alias, a verified NitroTPM document would pass wherever code expects an
// enclave's *Document, and would have Debug.
func TestNitroTPMDocumentIsItsOwnType(t *testing.T) {
	var tpm any = &attestation.NitroTPMDocument{}
	if _, ok := tpm.(*attestation.Document); ok {
		t.Error("a *NitroTPMDocument is a *Document")
	}
	if _, ok := tpm.(interface{ Debug() bool }); ok {
		t.Error("a *NitroTPMDocument has Document's Debug method")
	}
	var enc any = &attestation.Document{}
	if _, ok := enc.(*attestation.NitroTPMDocument); ok {
		t.Error("a *Document is a *NitroTPMDocument")
	}
}
