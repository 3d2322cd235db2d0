// SPDX-License-Identifier: Apache-2.0

package attestation

import (
	"bytes"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
)

// awsNitroRootG1PEM is the AWS Nitro Enclaves root certificate G1
// (CN=aws.nitro-enclaves, P-384, valid 2019-2049), as AWS publishes it at
// https://aws-nitro-enclaves.amazonaws.com/AWS_NitroEnclaves_Root-G1.zip.
// SHA-256 fingerprint of its DER:
// 641A0321A3E244EFE456463195D606317ED7CDCC3C1756E09893F3C68F79BB5B
// (checked by a test).
//
//go:embed aws_nitro_root_g1.pem
var awsNitroRootG1PEM []byte

// awsNitroRootG1DER returns the DER bytes of the embedded root.
var awsNitroRootG1DER = sync.OnceValue(func() []byte {
	block, _ := pem.Decode(awsNitroRootG1PEM)
	if block == nil || block.Type != "CERTIFICATE" {
		panic("attestation: embedded AWS Nitro root is not a PEM certificate")
	}
	return block.Bytes
})

// AWSNitroRootG1 returns the embedded AWS Nitro Enclaves root G1, the root
// [Verify] and [Verifier] trust when no other roots are given. Each call
// returns a freshly parsed certificate that the caller may keep.
func AWSNitroRootG1() *x509.Certificate {
	c, err := x509.ParseCertificate(bytes.Clone(awsNitroRootG1DER()))
	if err != nil {
		panic("attestation: embedded AWS Nitro root does not parse: " + err.Error())
	}
	return c
}

// defaultTrust is the trust configuration built from the embedded root
// once; it is never modified after construction.
var defaultTrust = sync.OnceValue(func() *trust {
	t, err := newTrust(nil)
	if err != nil {
		panic(err)
	}
	return t
})

// ParseRootsPEM returns the certificates in the PEM data (blocks of type
// CERTIFICATE; other blocks are skipped), for [Options.Roots] or
// [VerifierConfig.Roots]: an emulator's root, say, written by
// `enclave-agent emulator-root`. It is an error when a certificate does not
// parse or when there is none.
func ParseRootsPEM(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("attestation: root certificate %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errNoPEMRoots
	}
	return out, nil
}

var errNoPEMRoots = errors.New("attestation: no PEM certificate found")
