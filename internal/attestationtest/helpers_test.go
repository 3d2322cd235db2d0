// SPDX-License-Identifier: Apache-2.0

package attestationtest_test

import (
	"crypto/x509"

	"github.com/enclavekit/enclavekit/internal/attestationtest"
)

func verifyOpts(fx *attestationtest.Fixture) x509.VerifyOptions {
	inter := x509.NewCertPool()
	for _, c := range []*x509.Certificate{fx.Chain.Regional, fx.Chain.Zonal, fx.Chain.Instance} {
		inter.AddCert(c)
	}
	return x509.VerifyOptions{Roots: fx.RootPool(), Intermediates: inter, CurrentTime: fx.Now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
}
