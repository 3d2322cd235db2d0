// SPDX-License-Identifier: Apache-2.0

package emulator

import (
	"crypto/x509"
	"encoding/hex"
)

type x509Certificate = x509.Certificate

func hexEncode(b []byte) []byte { return []byte(hex.EncodeToString(b)) }
