// SPDX-License-Identifier: Apache-2.0

package main

import "time"

// waitLimit bounds the waits for an event in these tests (a log line, a
// connection upstream). It is no property of the code: it only turns an
// event that never comes into a failure that names it rather than a hang
// until go test's -timeout, so it is far beyond what a loaded machine needs.
const waitLimit = time.Minute
