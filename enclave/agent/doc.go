// SPDX-License-Identifier: Apache-2.0

// Package agent is the in-enclave side of key release: a KMS client that
// always asks for keys with Recipient, and an attestation endpoint for
// remote verifiers.
//
// # KMS with Recipient
//
// [Client] is built on the official aws-sdk-go-v2/service/kms client. Its
// HTTP transport dials every connection to one transport address
// ([Config.Proxy]: vsock://3:8000 to the host-proxy in production, tcp:// or
// unix:// in development). Against real AWS KMS the endpoint is
// https://kms.<region>.amazonaws.com and TLS runs inside the enclave end to
// end, the host only relaying bytes; against kms-server the endpoint may be
// plain HTTP or HTTPS.
//
// [Client.GenerateDataKey], [Client.Decrypt], [Client.GenerateRandom] and
// [Client.GenerateDataKeyPair] always send Recipient with a fresh attestation
// document carrying the agent's RSA public key, open CiphertextForRecipient
// with the private key (recipient.Open), and return the plaintext to the
// caller inside the enclave. A response that carries Plaintext anyway is
// refused ([ErrPlaintextInResponse]): fail closed.
//
// The RSA-2048 key is generated with entropy from the NSM and replaced on a
// schedule ([Config.KeyRotation]); a replaced key is zeroised (best effort)
// once no request in flight still uses it. A CiphertextForRecipient that does
// not open ([ErrRecipientOpen]) also retires the key at once: the parent
// instance relays every envelope and could tamper with it, so no key ever
// answers more than one failed decryption, and neither a CBC padding oracle
// nor an OAEP oracle has anything to query.
//
// # Credentials
//
// Credentials never come from the command line: [EnvCredentials] reads the
// standard AWS_* variables, [EndpointCredentials] fetches them from the
// host over vsock. [New] wraps either in aws.CredentialsCache, which
// fetches again before expiry.
//
// # Attestation endpoint
//
// [NewEndpoint] serves POST /v1/attestation (a JSON body with hex nonce,
// user_data and public_key, see [ParseAttestationRequest]; the raw
// document back as application/cbor) and GET /v1/health; [Serve] runs it
// on a transport address. A caller-supplied public_key is refused unless
// [EndpointConfig.AllowPublicKey]: a document binding this enclave's PCRs to
// the caller's key is a KMS Recipient that releases this enclave's keys to
// the caller.
//
// # Plain HTTP
//
// CiphertextForRecipient is not authenticated (see the recipient package):
// whoever relays it can replace it with an envelope sealed to the public key
// in the attestation document it also relays. Over a plain http:// endpoint
// the parent instance can therefore hand the enclave data keys of its own
// choosing. Use https (TLS inside the enclave) for anything but development.
package agent
