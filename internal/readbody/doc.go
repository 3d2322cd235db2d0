// SPDX-License-Identifier: Apache-2.0

// Package readbody reads an HTTP body whole into a buffer sized from its
// declared length, as kms-server reads requests and the agent's local KMS
// endpoint reads the key service's answers; boundedfile reads files with
// it, the file's size standing for the declared length.
//
// The declared length is the peer's word, so it reserves at most a bound
// before the bytes arrive; a longer body grows the buffer as it comes, by
// doubling, and every outgrown buffer is cleared, since bodies carry
// plaintext and key material that must not outlive their use. The caller
// bounds the total (an [io.LimitReader], or a server's body limit).
package readbody
