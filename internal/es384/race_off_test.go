// SPDX-License-Identifier: Apache-2.0

//go:build !race

package es384

const raceDetector = false
