// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"

	"github.com/enclavekit/enclavekit/attestation"
	"github.com/enclavekit/enclavekit/host/kmsserver"
)

// unsafeWarning is a setting in force that weakens what the server checks:
// one WARN line at start-up, so that a development setting copied into
// production is seen in the log, not only in the file.
type unsafeWarning struct {
	setting string // the kms-server.yaml key
	msg     string
	attrs   []any
}

// unsafeWarnings lists the unsafe settings of cfg: debug-mode enclaves
// allowed, plain HTTP off loopback, and each trusted root other than the
// AWS Nitro Enclaves root.
func unsafeWarnings(cfg *kmsserver.Config) []unsafeWarning {
	var w []unsafeWarning
	if cfg.AllowDebugEnclavesUnsafe {
		w = append(w, unsafeWarning{"attestation.allow_debug_unsafe",
			"debug-mode enclaves reach key policies: the parent can read their memory, and a key policy without PCR0, PCR1 or PCR2 conditions gives them keys; set it false outside development", nil})
	}
	if cfg.TLSConfig == nil && cfg.InsecureHTTPUnsafe {
		w = append(w, unsafeWarning{"insecure_http_unsafe",
			"insecure_http_unsafe is set and no tls is configured: the listener may serve plain HTTP on any address, not only loopback, and requests, signatures and answers then cross the network unencrypted; configure tls outside development", []any{"listen", cfg.Listen}})
	}
	aws := attestation.AWSNitroRootG1().Raw
	for _, c := range cfg.AttestationRoots {
		if bytes.Equal(c.Raw, aws) {
			continue
		}
		fp := sha256.Sum256(c.Raw)
		w = append(w, unsafeWarning{"attestation.roots",
			"an attestation root other than the AWS Nitro Enclaves root is trusted: whoever holds its key can mint documents with any PCRs; list only the AWS root, or none, outside development",
			[]any{"subject", c.Subject.String(), "sha256", hex.EncodeToString(fp[:])}})
	}
	return w
}
