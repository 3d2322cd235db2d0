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
// [Client.GenerateDataKey], [Client.Decrypt], [Client.GenerateRandom],
// [Client.GenerateDataKeyPair] and [Client.DeriveSharedSecret] always send
// Recipient with a fresh attestation
// document carrying the agent's RSA public key, open CiphertextForRecipient
// with the private key (recipient.Open), and return the plaintext to the
// caller inside the enclave. A response that carries Plaintext anyway is
// refused ([ErrPlaintextInResponse]): fail closed.
//
// Whoever answers (the parent instance, over plain http) chooses the
// answer's size, so the client's transport reads at most 64 KiB of status
// line and headers and 1 MiB of body per answer, for the library calls
// and the local KMS endpoint alike: a body whose Content-Length exceeds
// the bound is refused before any of it is read, and a longer one once the
// bound is read, with [AnswerTooLargeError] (the endpoint answers
// KMSInternalException). A KMS answer is a few KiB.
//
// The RSA-2048 key is generated with crypto/rand (since Go 1.26
// rsa.GenerateKey ignores any other reader: the kernel's pool, which the
// boot tasks seed from the NSM, is the entropy) and replaced on a schedule
// only ([Config.KeyRotation]); a replaced key is zeroised (best effort) once
// no request in flight still uses it.
//
// # What a relaying parent can learn
//
// The parent instance relays every request and response. Over TLS inside
// the enclave it sees only ciphertext. Over plain HTTP it can read and
// change everything, and CBC without a MAC is malleable: with the enclave's
// fresh document it can ask KMS itself for the envelope of a stored blob,
// flip bits in its IV and blocks, and hand the result to the agent. If
// anything the agent did next depended on whether that envelope's padding
// was valid, the parent would have a padding oracle and recover the
// plaintext a few thousand requests later (issue 12 did, 16 bytes in about
// 2,000 requests, when a failed open retired the RSA key). So:
//
//   - the RSA key is rotated on schedule only, never because a response
//     failed (the next document carries the same public key, and no key
//     generation happens that could be timed);
//   - every failure to open, and every plaintext that is not what was asked
//     for (a data key of another length than KeySpec or NumberOfBytes,
//     random bytes of another length, a key pair that does not parse as
//     KeyPairSpec or does not match the PublicKey), is the same
//     [ErrRecipientOpen] with no detail, since an application's error log may
//     reach the host;
//   - padding is checked in constant time (see the recipient package).
//
// TestNoPaddingOracle replays the attack and checks that the parent learns
// nothing from the agent's next request.
//
// What remains possible without TLS, and why http:// is refused unless
// [Config.InsecureHTTPUnsafe] is set:
//
//   - the parent chooses keys: it can seal any plaintext to the public key
//     in the document it relays, and the agent cannot tell (nothing
//     authenticates CiphertextForRecipient);
//   - [Client.Decrypt] cannot know the plaintext's length, so a tampered
//     envelope whose padding stays valid returns a different plaintext to
//     the application; if the application then behaves observably
//     differently (fails to parse the secret and retries, exits, logs), that
//     behaviour is an oracle the agent cannot remove;
//   - timing that cannot be avoided: an envelope whose OAEP layer fails
//     skips the AES decryption (microseconds, against a network round trip),
//     and a data key pair is parsed only when its padding is valid;
//   - the parent can withhold, delay, replay or reorder responses.
//
// Over TLS to KMS or kms-server none of these apply to what the parent
// relays: it relays bytes it cannot change unnoticed. What it stores is
// another matter.
//
// # Stored ciphertexts: name the key
//
// The enclave keeps its CiphertextBlob outside (S3, the parent's disk),
// where the parent can replace it, TLS or not. With the credentials it
// hands the enclave, the parent calls GenerateDataKey, without Recipient,
// on another key of the account that its role may use (or runs a
// production enclave of its own to satisfy a key policy that pins no
// image), and stores that blob instead. KMS Decrypt without KeyId decrypts
// whatever key a blob names, so the enclave would take a data key the
// parent knows; the key is in the account, so [Config.KMSAccount] passes
// it. So [Client.Decrypt] refuses a request without KeyId
// ([KeyIDRequiredError], before anything is sent), and the local KMS
// endpoint answers ValidationException to a Decrypt without KeyId and to a
// ReEncrypt without SourceKeyId (which would re-encrypt the parent's blob
// under the enclave's own key); enclave-agent decrypt requires --key-id.
// With the key named, KMS refuses a blob under any other key
// (IncorrectKeyException). There is no opt-out.
//
// Name the key by its key ARN, from the enclave's image or configuration,
// never stored beside the blob (the parent would replace both); with
// KMSAccount set the answer's KeyId must then be that ARN. An alias is only
// as fixed as the permission to move it: anyone allowed kms:UpdateAlias on
// it (the parent's role, if its policy allows) can point it at a key the
// parent knows. The same holds for a stored PrivateKeyCiphertextBlob of
// [Client.GenerateDataKeyPair].
//
// # Local KMS endpoint
//
// [NewKMSEndpoint] serves the KMS JSON 1.1 protocol to applications inside
// the enclave, in any language: an unmodified AWS SDK with its endpoint URL
// set to the agent (enclave-agent serve --kms-listen 127.0.0.1:PORT;
// boto3's endpoint_url, AWS_ENDPOINT_URL_KMS, the Go and JavaScript SDKs'
// endpoint option) gets its keys through the agent, and nothing in the
// application knows about attestation.
//
//   - Decrypt without KeyId, and ReEncrypt without SourceKeyId (each a
//     non-empty string member spelled so), are refused with
//     ValidationException naming the member, before anything is sent (see
//     "Stored ciphertexts: name the key" above).
//   - Decrypt, GenerateDataKey, GenerateDataKeyPair, GenerateRandom and
//     DeriveSharedSecret: the agent adds Recipient (replacing any the
//     application sent, in any case: kms-server matches member names
//     regardless of case), opens CiphertextForRecipient with the checks of
//     the library calls, and answers with Plaintext (PrivateKeyPlaintext,
//     SharedSecret) as KMS does without Recipient. The plaintext exists only
//     inside the enclave.
//   - An envelope that does not open (or opens to a plaintext that is not
//     what was asked for) is answered 400 KMSInternalException, and not
//     logged. Over plain HTTP the parent writes the envelope, and whether
//     one it tampered with opens depends on the plaintext inside: a 500,
//     which aws-sdk-go-v2, botocore and @aws-sdk/client-kms all retry
//     (together with 502, 503, 504 and the throttling and timeout codes),
//     would show the parent three requests (botocore's legacy mode: five)
//     for a wrong guess against one for a right one, and a log line
//     forwarded by init --logs-to would tell the two apart as well. None of
//     the three retries a 400 with this code. Do not retry it in the
//     application either: the same request reaches the same parent.
//   - The other KMS operations that return no secret (DescribeKey, Encrypt,
//     ListKeys, Sign, ...) pass through unchanged, signed with the agent's
//     own credentials. Operations outside that list, including any the KMS
//     API gains later, are refused (UnknownOperationException) rather than
//     risk relaying a secret through the parent; so are Encapsulate and
//     Decapsulate, whose shared secret KMS returns in plaintext (they take
//     no Recipient). Encrypt sends the
//     application's plaintext to the key service, as KMS's Encrypt does:
//     over TLS only the key service reads it, over plain HTTP the parent too.
//   - An answer carrying Plaintext, PrivateKeyPlaintext or SharedSecret from
//     the key service, in any case ("plaintext"), is refused, for every
//     operation.
//   - Before anything in it is checked, an answer is refused
//     (KMSInternalException) when an object in it, at any depth, names a
//     member twice or names two that differ only in case (after decoding
//     escapes: "Plain\u0074ext" is Plaintext), when it nests deeper than
//     any KMS answer (8 levels), or when it has more than 32,768 members
//     and array elements (a page of 1,000 list entries has 3,000 to
//     about 30,000). The endpoint checks the value encoding/json keeps of a
//     repeated name, the last, but passes the answer's bytes on, and the
//     application's decoder may keep another (aws-sdk-go-v2 keeps the last
//     that is not null): {"Plaintext":"<key>","Plaintext":null} would
//     pass the check above, a KeyId repeated the --kms-account check
//     below. The bound on members keeps what one answer of 1 MiB costs the
//     endpoint to check to about 12 MiB of heap and 35 ms of CPU at worst
//     (without it, up to 35 MiB and 0.3 s).
//   - Every request is bounded: the body to [KMSEndpointConfig].MaxRequestBytes
//     (64 KiB; 413 ValidationException beyond), the whole exchange to the
//     timeout (503 DependencyTimeoutException when the key service does not
//     answer in time or cannot be reached), the requests in progress to
//     MaxConcurrent (ThrottlingException beyond); malformed JSON, and
//     members whose names differ only in case, are SerializationException.
//     Errors from the key service are relayed as their code and message.
//   - The server's own bounds ([ServeKMSEndpoint]): request line and
//     headers 16 KiB (431 ValidationException beyond, whatever their
//     number), a request arriving whole within 10 s of its first byte, or
//     of the connection's opening (408 RequestTimeoutException), an answer
//     written within 30 s, an idle kept-alive connection closed after
//     2 min, at most MaxConnections (256) connections open (503 beyond, not
//     KMS-shaped: the connection is refused before any request is read;
//     the SDKs retry). Malformed HTTP (bad chunks, two Content-Lengths, an
//     unknown transfer coding, Transfer-Encoding in HTTP/1.0) is 400
//     SerializationException; every refusal closes its connection. A
//     request with both Content-Length and Transfer-Encoding is read as
//     chunked and its connection closed after the answer. Pipelined
//     requests are answered in order; HTTP/1.0 is answered, and its
//     connection closed unless it asked for keep-alive.
//
// The server is github.com/valyala/fasthttp's, not net/http's. The
// application's SDK call and its loopback exchange cost ≈ 9 % of a library
// GenerateDataKey before the endpoint does anything, nearly all the 10 %
// the endpoint may add (issue 16): per request, fasthttp reads the request
// into buffers kept with the connection and answers on the connection's
// goroutine, where net/http allocates the request and its headers, starts
// a goroutine to watch the connection during the handler and stops it
// after. The exchange with nothing behind it takes 18 % fewer
// instructions (0.387 against 0.474 M, callgrind) and ≈ 23 µs less CPU
// (79 against 102 µs), and the endpoint adds 0.02 less of the library call
// (1.070 against 1.089 side by side; docs/PERFORMANCE.md). The price: four
// modules (fasthttp, its byte-buffer pool, and the compression libraries
// klauspost/compress and go-brrr, linked whether used or not), 1 MB more
// in enclave-agent.
// fasthttp does not cancel a request when its client goes away: the
// endpoint's timeout bounds each request instead. fasthttp pools its
// buffers and never clears them, so an answer (a plaintext) is written from
// the endpoint's own buffer, which is cleared once written, and the
// server's write buffer is too small to take a copy; a request's body
// (Encrypt's plaintext) does stay in the pooled read buffers until they
// are reused. [KMSEndpoint.ServeHTTP]
// answers the same requests as a [net/http.Handler], in process.
//
// Authentication: none. The endpoint checks no SigV4 signature and needs no
// token: applications sign with any credentials (the SDKs insist on some),
// and the agent re-signs with its own. The reason is where the endpoint can
// be reached from. [ServeKMSEndpoint] listens on loopback TCP only (never
// vsock or a unix socket, which the parent could reach through a shared
// file system or the vsock device; the generic [Serve] refuses the
// endpoint with [ErrKMSEndpointServe]), and an enclave's loopback is
// reachable from inside the enclave only: every process there is part of the measured
// image that the key policy admits. A local token would have to be
// distributed to those same processes through the same image, adding a
// secret without adding a boundary. Run only trusted code in the enclave, as
// the key policy assumes anyway. A proxy inside the enclave can still carry
// outside requests to loopback (the attested listener's --upstream, an
// application's reverse proxy): the endpoint refuses any request bearing a
// proxy's headers (X-Forwarded-*, Forwarded, Via) with
// AccessDeniedException, and nothing may forward raw TCP to it.
//
// # Credentials
//
// Credentials never come from the command line: [EnvCredentials] reads the
// standard AWS_* variables, [EndpointCredentials] fetches them from the
// host over vsock. [New] wraps either in aws.CredentialsCache, which
// fetches again before expiry.
//
// # Which account
//
// The parent instance supplies the credentials, and an alias (alias/app) or
// a bare key ID resolves in the credentials' account: a parent can hand in
// credentials for its own account, where alias/app names a key it can
// decrypt with, and the CiphertextBlob the enclave stores is then the
// parent's to open without Recipient. Set [Config.KMSAccount] (enclave-agent
// --kms-account ACCOUNT_ID) to the application's account ([New] refuses
// [EndpointCredentials] without it, as enclave-agent refuses
// --credentials-endpoint): every KMS response's KeyId must then be a key
// ARN in it, and, when the request names a key by its full key ARN, that
// ARN. Any other response is refused with a
// [KeyAccountError] (the local KMS endpoint answers KMSInternalException),
// like any other bad response: none of its plaintext is used. The local KMS
// endpoint checks every key an answer it passes through names, at any
// depth (KeyMetadata.KeyId, Arn and AWSAccountId, multi-Region keys,
// ReEncrypt's SourceKeyId, the entries of ListKeys, ListAliases and
// ListGrants): each must be in the account, and a bare key ID is accepted
// only beside an ARN in the account that names the same key. An answer
// lacking the key its operation used (Encrypt's KeyId, DescribeKey's
// KeyMetadata.Arn, ...) is refused too.
//
// # Attestation endpoint
//
// [NewEndpoint] serves POST /v1/attestation (a JSON body with hex nonce,
// user_data and public_key, see [ParseAttestationRequest]; the raw
// document back as application/cbor) and GET /v1/health; [Serve] runs it
// on a transport address. A caller-supplied public_key is refused unless
// [EndpointConfig.AllowPublicKey]: a document binding this enclave's PCRs to
// the caller's key is a KMS Recipient that releases this enclave's keys to
// the caller (NewEndpoint logs a WARN when it is set).
// The nonce and user_data are signed as the caller sends them, whoever
// the caller is (the parent instance reaches the endpoint): a document from
// it proves the image, never that the enclave chose its user_data. A key
// bound in user_data could be the parent's; bind a key as attestedtls
// does (its hash in public_key, with proof of possession over the same
// channel), or serve no endpoint the parent reaches.
// Each request is an NSM request, so at most
// [EndpointConfig.MaxConcurrent] (default [DefaultEndpointMaxConcurrent])
// are served at once and the rest refused at once with 503 busy and
// Retry-After: a flood from the parent gets fast refusals instead of an
// unbounded queue of NSM work (it can still keep the endpoint busy: a
// denial of service, which the parent can cause anyway). [Serve] keeps at
// most [EndpointConfig.MaxConns] connections open (default
// [DefaultEndpointMaxConns], 256): one more is not accepted, so not read,
// until one closes: it waits in the kernel's accept queue, as one over the
// attested listener's MaxConns does, so a parent opening thousands of
// connections and keeping them alive costs the enclave 256 goroutines and
// their buffers, a few MiB, not one of each per connection. Request line
// and headers are bounded to 16 KiB, arriving within 10 s; an idle
// kept-alive connection is closed after 2 min.
//
// # Attested TLS
//
// [NewAttested] serves the application (a reverse proxy to its local HTTP
// port) and the attestation challenge on one TLS listener whose key is
// made inside the enclave and bound by the documents (see the attestedtls
// package); remote clients verify it with attestedtls or nitro-verify
// --connect, through host-proxy ingress, which relays it as raw TCP.
//
// Every connection to it comes through the parent, so [Attested.Serve]
// bounds what one costs the enclave ([AttestedConfig] sets the bounds,
// zero is the default):
//
//   - at most MaxConns connections open (1024, host-proxy's default per
//     route); one more is not accepted, so neither handshaken (an ECDSA
//     signature each) nor read, until one closes: it waits in the
//     kernel's accept queue. A held connection costs 40 KiB at most (its
//     goroutine's stack, TLS and HTTP buffers), so the bound keeps a flood
//     to tens of MiB;
//   - handshakes started at MaxHandshakeRate a second (100; enclave-agent
//     serve --attested-handshake-rate) after a burst of HandshakeBurst
//     (100): a token bucket, taken before each accept,
//     so a connection beyond the rate waits in the kernel's accept queue
//     too. MaxConns does not bound a parent that closes each connection
//     once handshaken, or replays one recorded ClientHello and never
//     finishes: each costs the enclave a key exchange of the parent's
//     choosing among attestedtls.KeyExchanges and an ECDSA signature,
//     0.43 ms of CPU with X25519MLKEM768 and 0.99 ms with
//     SecP384r1MLKEM1024, the costliest (BenchmarkAttestedHandshake; P-521,
//     1.7 ms, is refused), so the default leaves a spamming parent 10 % of
//     one core at most;
//   - the TLS handshake, and then each request's line and headers,
//     within HeaderTimeout (10 s): a client that connects and sends
//     nothing, or half a handshake or half a request, is closed;
//   - each request end to end within WriteTimeout (1 min, the usual
//     bound of reverse proxies): its body's arrival, the application's
//     answer and the client's reading of it. At the bound the request to
//     the application is cancelled (504 upstream_timeout if no answer had
//     begun; an application that cannot be reached or fails before
//     answering is 502 upstream_error) and, shortly after, the connection
//     is closed: a client that
//     never reads its answer, or trickles its body, holds a goroutine and
//     a connection to the application no longer. An upgraded connection
//     (WebSocket) is one request, so bounded too; an application that
//     streams for longer needs a longer WriteTimeout;
//   - a kept-alive connection idle for IdleTimeout (2 min) at most;
//     request line and headers 16 KiB (431 beyond).
//
// A parent holding MaxConns connections, or spending the handshake rate,
// keeps other clients waiting: a denial of service, which it can cause
// anyway by relaying nothing; what the bounds prevent is the enclave's
// memory, goroutines and CPU growing with what the parent sends, and so
// the parent starving the enclave's application of its CPUs.
// enclave-agent serve uses the defaults.
//
// # Plain HTTP
//
// CiphertextForRecipient is not authenticated (see the recipient package):
// whoever relays it can replace it with an envelope sealed to the public key
// in the attestation document it also relays. Over a plain http:// endpoint
// the parent instance can therefore hand the enclave data keys of its own
// choosing (see "What a relaying parent can learn" above). Use https (TLS
// inside the enclave) for anything but development.
//
// # Serving
//
// The agent's endpoints (attestation, local KMS, attested TLS) are
// http.Handlers served by [Serve] or [Attested.Serve], each taking a
// context that ends it. They do not follow host/kmsserver's and
// host/proxy's Listen/Serve(ctx) type on purpose: the agent owns no store,
// no background loop and no second listener per endpoint; enclave-agent
// serve composes them and owns their lifetimes. A long-lived loop added
// here later (key rotation is already on a timer inside [Client]) would
// move the agent to the same Listen/Serve(ctx) shape.
package agent
