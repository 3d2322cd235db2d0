// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package boot

// KernelPool is the kernel's random pool; outside Linux every AddEntropy
// fails with [ErrUnsupported].
func KernelPool() EntropyPool { return unsupportedPool{} }

type unsupportedPool struct{}

func (unsupportedPool) AddEntropy([]byte, int) error { return ErrUnsupported }
