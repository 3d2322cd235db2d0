// SPDX-License-Identifier: Apache-2.0

package readbody

import "io"

// unknownReserve is what a body of unknown (or zero) declared length
// reserves first.
const unknownReserve = 512

// Read reads r to its end into buf (its contents are overwritten; nil is
// fine) and returns the bytes read. declared, the body's declared length
// (negative when unknown), sizes the buffer, up to maxReserve bytes; a
// longer body grows it as it arrives, and each outgrown buffer is cleared.
// On an error other than io.EOF it returns what was read so far and the
// error.
func Read(r io.Reader, declared int64, maxReserve int, buf []byte) ([]byte, error) {
	reserve := int64(unknownReserve)
	if declared > 0 {
		reserve = declared
	}
	reserve = min(reserve, int64(max(maxReserve, 1))) + 1 // +1: EOF is seen without growing
	b := buf[:0]
	if int64(cap(b)) < reserve {
		b = make([]byte, 0, reserve)
	}
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) { // longer than reserved: grow and go on
			old := b
			b = append(make([]byte, 0, 2*cap(b)), b...)
			clear(old[:cap(old)])
		}
	}
}
