// SPDX-License-Identifier: Apache-2.0

package enclave_test

import (
	"encoding/hex"
	"fmt"

	"github.com/enclavekit/enclavekit/enclave"
)

// The device extends a PCR with the data itself: SHA-384(PCR || data).
func ExampleExtendPCRValue() {
	pcr := make([]byte, enclave.PCRSize) // PCR16 at boot
	pcr = enclave.ExtendPCRValue(pcr, []byte("abc"))
	fmt.Println(hex.EncodeToString(pcr))
	// Output:
	// b1c16eb7634112b7c9d5ebd27e62a2d4528bbfcfd68b62d3afd9ecf98e0f413a84314acce78317fb69fd895155343e09
}
