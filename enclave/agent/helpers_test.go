// SPDX-License-Identifier: Apache-2.0

package agent

import "crypto/x509"

type x509Cert = x509.Certificate
