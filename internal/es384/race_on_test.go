// SPDX-License-Identifier: Apache-2.0

//go:build race

package es384

// raceDetector shortens the slowest differential tests under -race, which
// slows big-number arithmetic tenfold; the full sizes run without it.
const raceDetector = true
