// SPDX-License-Identifier: Apache-2.0

package attestation

// VerifierStats returns how many chains v verified with crypto/x509 (full)
// and how many leaves it verified under a cached CA bundle (fast), for the
// external tests.
func VerifierStats(v *Verifier) (full, fast int64) {
	return v.stats.full.Load(), v.stats.fast.Load()
}

// VerifierCachedCAs returns the number of CA bundles v keeps for the
// semi-cold path.
func VerifierCachedCAs(v *Verifier) int {
	if v.cas == nil {
		return 0
	}
	return v.cas.len()
}
