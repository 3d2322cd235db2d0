// SPDX-License-Identifier: Apache-2.0

//go:build race

package agent

// raceDetector: the race detector makes sync.Pool drop a quarter of the
// buffers put back, so the SDK's and net/http's pooled buffers are made
// again and allocation bounds need room for that.
const raceDetector = true
