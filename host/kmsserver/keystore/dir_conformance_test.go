// SPDX-License-Identifier: Apache-2.0

package keystore_test

import (
	"testing"

	"github.com/enclavekit/enclavekit/host/kmsserver/keystore"
	"github.com/enclavekit/enclavekit/host/kmsserver/keystore/storetest"
)

// TestDirConformance runs the backend conformance suite on the directory
// store. (An external test package: storetest imports keystore.)
func TestDirConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) keystore.Store {
		d, err := keystore.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}
