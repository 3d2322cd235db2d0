// SPDX-License-Identifier: Apache-2.0

//go:build linux

package enclave_test

import "crypto/x509"

type x509Cert = x509.Certificate
