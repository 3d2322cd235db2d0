// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"runtime"
	"strings"
)

// defaultKeyGenerations is Config.MaxConcurrentKeyGenerations' default:
// half the CPUs Go uses, at least one, so that RSA key generations leave
// the other half to every other request.
func defaultKeyGenerations() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// startKeyGen takes one of the server's key-generation slots for a key of
// spec, without waiting: RSA specs only (tens of milliseconds to seconds of
// CPU each), every other spec costs microseconds and is not bounded. With
// every slot taken the answer is a ThrottlingException, which the AWS SDKs
// retry with backoff. The caller runs release when the key is made.
func (s *Server) startKeyGen(spec string) (release func(), err error) {
	if !strings.HasPrefix(spec, "RSA_") {
		return func() {}, nil
	}
	select {
	case s.keyGen <- struct{}{}:
		return func() { <-s.keyGen }, nil
	default:
		return nil, apiErr(CodeThrottling, "Too many RSA key generations in progress (at most %d at once on this server); retry later", cap(s.keyGen))
	}
}
