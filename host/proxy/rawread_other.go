// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package proxy

import (
	"io"
	"syscall"
)

// newSource is Linux only in its raw form: elsewhere a direction holds a
// small buffer while its read blocks.
func newSource(src io.Reader) bufSource { return plainSource{src} }

// sourceRawConn is nil: without the Linux parker no direction parks.
func sourceRawConn(bufSource) syscall.RawConn { return nil }

// newSink is dst itself outside Linux.
func newSink(dst io.Writer) io.Writer { return dst }

// urgentInline is Linux only; elsewhere TCP urgent data is not relayed.
func urgentInline(any) {}
