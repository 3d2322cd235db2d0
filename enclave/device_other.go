// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package enclave

// DevicePath is where the NSM driver exposes the device (on Linux).
const DevicePath = "/dev/nsm"

// Device is the real NSM; it exists only on Linux.
type Device struct{ NSM }

// OpenDevice fails on systems other than Linux with a *[NoDeviceError]
// matching [ErrNoDevice].
func OpenDevice() (*Device, error) {
	return nil, &NoDeviceError{Path: DevicePath}
}
