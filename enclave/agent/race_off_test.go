// SPDX-License-Identifier: Apache-2.0

//go:build !race

package agent

// raceDetector: see race_on_test.go.
const raceDetector = false
