// SPDX-License-Identifier: Apache-2.0

// Command nitro-verify verifies an AWS Nitro Enclaves attestation document
// offline and reports the verdict, as text or JSON. Run it with --help for
// the flags; the logic lives in internal/verifycli.
//
// Exit status: 0 verified, 1 rejected, 2 usage or I/O error.
package main

import (
	"os"

	"github.com/enclavekit/enclavekit/internal/verifycli"
)

func main() {
	os.Exit(verifycli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
