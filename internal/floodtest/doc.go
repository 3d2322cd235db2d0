// SPDX-License-Identifier: Apache-2.0

// Package floodtest holds test helpers for the parent instance's floods of
// the enclave's HTTP clients (the credential route, the time route, a
// plain-http KMS endpoint): a server whose answers carry a header block as
// large as asked, and a measure of what a call allocates. Only tests
// import it.
package floodtest
