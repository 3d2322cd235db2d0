// SPDX-License-Identifier: Apache-2.0

package ber

import (
	"errors"
	"testing"
)

// FuzzParse checks that no input panics or escapes the error classes, and
// that whatever parses can be read down completely (or fails cleanly) with
// every contents slice inside the input.
func FuzzParse(f *testing.F) {
	for _, v := range vectors(f) {
		f.Add(v)
	}
	f.Add([]byte{0x30, 0x80, 0x30, 0x80, 0x00, 0x00, 0x00, 0x00})
	f.Add([]byte{0xa0, 0x80, 0x24, 0x80, 0x04, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := Parse(in, Limits{MaxDepth: 12, MaxElements: 512})
		if err != nil {
			checkErr(t, err)
			return
		}
		if e.Offset != 0 || len(e.Contents) > len(in) {
			t.Fatalf("bad top element %+v", e)
		}
		var visit func(e Element)
		visit = func(e Element) {
			if e.Offset+e.HeaderLen+len(e.Contents) > len(in) {
				t.Fatalf("contents beyond input: %+v", e)
			}
			if !e.Constructed {
				return
			}
			_ = e.Segments(func(s []byte) {})
			r, err := e.Children()
			if err != nil {
				checkErr(t, err)
				return
			}
			for !r.Empty() {
				c, err := r.Next()
				if err != nil {
					checkErr(t, err)
					return
				}
				visit(c)
			}
		}
		visit(e)
	})
}

func checkErr(t *testing.T, err error) {
	var be *Error
	if !errors.As(err, &be) || !(errors.Is(err, ErrTruncated) || errors.Is(err, ErrSyntax) || errors.Is(err, ErrLimit)) {
		t.Fatalf("unexpected error %#v", err)
	}
}
