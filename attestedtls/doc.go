// SPDX-License-Identifier: Apache-2.0

// Package attestedtls is attested TLS into a Nitro Enclave: a client
// verifies the enclave, not a certificate. The enclave ([Server]) makes
// its TLS key inside the enclave and presents a self-issued certificate
// carrying an attestation document that binds the key; the client
// ([Client], [NewTLSConfig]) fails the handshake unless that document
// verifies under its policy (roots, PCRs, maximum age) and binds the key
// the server proved it holds. A challenge over the same connection then
// proves the enclave alive and terminating this very TLS session.
//
// # The scheme, and why
//
// Binding. Every document the server serves carries, as public_key, the
// SHA-256 of the TLS key's DER SubjectPublicKeyInfo ([KeyHash]). public_key
// rather than user_data: the generic attestation endpoint of the agent
// (enclave/agent) signs any user_data and nonce a caller asks for, so a
// binding in user_data could be minted for the parent's own key; it
// refuses a caller's public_key, because that field makes a KMS Recipient.
// A hash rather than the key: 32 bytes whatever the key type, and never a
// key KMS would encrypt to, so a TLS binding document cannot release KMS
// keys either.
//
// In the handshake. The document travels in the server's certificate, in
// the id-pe-cmw extension of RFC 9999 ([OIDExtensionCMW]: the CMW cbor
// choice, a record [[CMWType], document, 4]), so that any protocol over
// TLS is attested by the handshake alone, and openssl s_client shows it.
// The certificate, the only thing re-issued, is replaced with a fresh
// document every ServerConfig.Refresh ([DefaultRefresh]) and before the
// document's three-hour NSM leaf expires; the key stays for the life of
// the Server. This is evervault's first design (the document in the
// certificate) with nitriding's binding idea (a hash of key material in
// the document) moved to a field the parent cannot fill.
//
// Freshness. The certificate's document is as old as the last refresh, and
// anyone can replay it, but only together with the key it binds.
// [Client.Challenge] asks, over the same connection, POST [ChallengePath]
// with the client's nonce in the [NonceHeader] header; the enclave answers
// with a new document whose nonce is the client's and whose user_data is
// the session's TLS exporter value ([ExporterLabel], RFC 8446 §7.5). A
// recorded document fails the nonce check (attestation.ErrNonceMismatch)
// and a document made for another session fails the exporter check
// ([ErrChannelBinding]). [Client.Dial] does the handshake and a challenge,
// and so does every connection of [Client.Transport], an http.Transport
// for HTTPS requests. It uses no proxy: through one, net/http would do
// TLS itself with its TLSClientConfig, not the attested dial.
//
// Interoperability. nitriding binds the SHA-256 of the whole certificate
// in user_data ("sha256:" prefix) and serves GET /enclave/attestation;
// evervault's clients expect the SubjectPublicKeyInfo itself in user_data
// or the document in a subjectAltName. Both formats live in user_data,
// which the generic endpoint signs for anyone, so this package speaks
// neither; their clients reject its endpoints rather than accept a
// forgeable binding.
//
// # Security considerations
//
// The parent instance relays every byte, so assume it is in the middle.
//
// What it cannot do: terminate TLS itself. Its certificate either carries
// no document ([ErrNoDocument]), a copied document that binds the
// enclave's key, not its own ([ErrKeyNotBound]), or a document from
// another image ([attestation.ErrPCRMismatch]). It cannot obtain a
// document binding its own key: the agent's endpoint refuses a caller's
// public_key (unless EndpointConfig.AllowPublicKey, which hands the parent
// every KMS key too). Even with the enclave's TLS private key stolen, it
// cannot pass a challenge on a session it terminates: the enclave binds
// its own session's exporter value, which differs ([ErrChannelBinding]).
//
// Nor can it answer with an enclave of its own: it can launch one, a
// genuine non-debug enclave on its own Nitro host, whose documents verify
// and bind its key, but not of the pinned image ([attestation.ErrPCRMismatch]).
// That holds only when the policy pins the image: [NewClient] refuses
// Options.PCRs that do not ([ErrImageNotPinned], [PinsImage]: a non-zero
// PCR0, PCR8, or PCR1 and PCR2), unless ClientConfig.AnyImageUnsafe says
// any enclave will do.
//
// What it can do: relay the connection, unopened, to another enclave that
// passes the same policy — another instance of the same image, on this or
// another parent. The client gets a genuine attested session with an
// enclave running the code it pinned, but not necessarily the instance it
// had in mind. Pin PCR4 (the parent instance) in Options.PCRs, or check
// the returned document's ModuleID, when the instance matters (for
// example when enclaves hold different data). Debug-mode enclaves of the
// same image report zero PCR0-2 and are refused unless AllowDebugUnsafe.
//
// The listener speaks HTTP/1.1 only, as the client does: serve it with
// [Server.HTTPServer], or set Protocols to [HTTP1Only] on an http.Server
// of your own. net/http otherwise adds h2, and a client offering only h2
// gets HTTP/2, up to 250 requests at once on one connection, past every
// per-connection bound of the server.
//
// Anyone who reaches the listener can ask for challenges, each an NSM
// request; at most ServerConfig.MaxChallenges are answered at once, the
// rest refused with 503 at once, so a flood cannot queue NSM work without
// bound (it can still keep challenges busy: a denial of service).
//
// The parent can also refuse service, delay, or cut connections: accept
// a connection and stay silent, for one. [Client.Dial] and
// [Client.Challenge] give up after ClientConfig.Timeout
// ([DefaultTimeout]) unless their context ends sooner; a connection made
// with [Client.TLSConfig] or [NewTLSConfig] is bounded only by the
// deadline its caller sets (tls.Dial has none). It can replay a
// stale handshake only as long as MaxAge allows (or, with MaxAge zero,
// the certificate's three-hour validity: [NewClient] refuses
// Options.AtDocumentTime), and never a challenge.
package attestedtls
