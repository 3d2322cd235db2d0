// SPDX-License-Identifier: Apache-2.0

// Package boundedfiletest makes the files that package
// [github.com/enclavekit/enclavekit/internal/boundedfile] refuses (a huge
// sparse file, a named pipe nobody writes to), for the tests of the code
// that reads operator-given files through it, and bounds how long such a
// test waits for a read that should be refused at once.
package boundedfiletest
