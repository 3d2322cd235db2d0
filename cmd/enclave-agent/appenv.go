// SPDX-License-Identifier: Apache-2.0

package main

import (
	"net"
	"strings"

	"github.com/enclavekit/enclavekit/internal/transport"
)

// The variables init sets in the application's environment, naming the
// addresses its endpoints listen on.
const (
	// envKMSEndpoint is the local KMS endpoint of --kms-listen as an
	// http:// URL, ready for an AWS SDK's endpoint_url.
	envKMSEndpoint = "ENCLAVE_AGENT_KMS_ENDPOINT"
	// envListen is the attestation endpoint of --listen in --listen's own
	// syntax (tcp://HOST:PORT, unix:///PATH, vsock://CID:PORT).
	envListen = "ENCLAVE_AGENT_LISTEN"
	// envForwardedPipes names, with --logs-to, the pipes init forwards to
	// the parent instance (the application's stdout and stderr) as
	// DEVICE:INODE,DEVICE:INODE (boot.FileID): the KMS commands refuse to
	// write key material to a stdout that is one of them.
	envForwardedPipes = "ENCLAVE_AGENT_FORWARDED_PIPES"
)

// appEnv returns the application's environment: base with
// ENCLAVE_AGENT_KMS_ENDPOINT set to the local KMS endpoint's URL when kms
// is not nil and ENCLAVE_AGENT_LISTEN to the attestation endpoint's address
// when att is not nil. Any value base has for either, or for
// ENCLAVE_AGENT_FORWARDED_PIPES (set by the supervisor with --logs-to), is
// dropped: init owns these names, so a value inherited from whoever started init (stale, or
// planted to send the application's requests elsewhere) never reaches the
// application.
func appEnv(base []string, kms, att net.Addr) []string {
	env := make([]string, 0, len(base)+2)
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if name != envKMSEndpoint && name != envListen && name != envForwardedPipes {
			env = append(env, kv)
		}
	}
	if kms != nil {
		env = append(env, envKMSEndpoint+"=http://"+kms.String())
	}
	if att != nil {
		env = append(env, envListen+"="+transport.PeerString(att))
	}
	return env
}
