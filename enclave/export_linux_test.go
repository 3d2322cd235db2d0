// SPDX-License-Identifier: Apache-2.0

//go:build linux

package enclave

// OpenDeviceWith opens a Device over a substituted ioctl, for tests.
var OpenDeviceWith = openDevice
