// SPDX-License-Identifier: Apache-2.0

package ber

import (
	"errors"
	"strconv"
	"sync/atomic"
)

// Class is the class of a tag (the top two bits of the identifier octet).
type Class uint8

// Tag classes.
const (
	ClassUniversal Class = iota
	ClassApplication
	ClassContextSpecific
	ClassPrivate
)

// Universal tag numbers used by CMS.
const (
	TagInteger     = 2
	TagOctetString = 4
	TagNull        = 5
	TagOID         = 6
	TagSequence    = 16
	TagSet         = 17
)

// Default limits, used for zero fields of [Limits].
const (
	DefaultMaxInput    = 1 << 20
	DefaultMaxDepth    = 32
	DefaultMaxElements = 1 << 16
)

// maxTagOctets bounds the subsequent octets of a high tag number (28 bits).
const maxTagOctets = 4

// maxLengthOctets bounds the long-form length octets.
const maxLengthOctets = 4

// Limits bound what one input may cost. Zero fields take the defaults.
type Limits struct {
	// MaxInput is the largest input [Parse] accepts, in bytes.
	MaxInput int
	// MaxDepth is the deepest nesting level; the top-level element is at 0.
	MaxDepth int
	// MaxElements bounds the elements visited while finding the ends of
	// indefinite-length elements, over one input: [Parse] and every
	// [Element] and [Reader] read down from its result share one count.
	// An element inside k nested indefinite-length elements is visited
	// once for each of them it is read under, and reading the same element
	// again visits again.
	MaxElements int
}

func (l Limits) norm() Limits {
	if l.MaxInput <= 0 {
		l.MaxInput = DefaultMaxInput
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultMaxElements
	}
	return l
}

// Error classes, matched with errors.Is.
var (
	// ErrTruncated: the input ends before the encoding does.
	ErrTruncated = errors.New("ber: truncated input")
	// ErrSyntax: the input is not valid BER (or uses a form this reader rejects).
	ErrSyntax = errors.New("ber: syntax error")
	// ErrLimit: a [Limits] bound was exceeded.
	ErrLimit = errors.New("ber: limit exceeded")
)

// Error is a decoding error at a byte offset of the input.
type Error struct {
	Offset int    // byte offset in the input where the problem was found
	Kind   error  // ErrTruncated, ErrSyntax or ErrLimit
	Reason string // what is wrong
}

func (e *Error) Error() string {
	return "ber: " + e.Reason + " at offset " + strconv.Itoa(e.Offset)
}

// Unwrap returns the error class.
func (e *Error) Unwrap() error { return e.Kind }

// Element is one decoded element. Contents aliases the input.
type Element struct {
	Class       Class
	Tag         uint32
	Constructed bool
	// Indefinite reports an indefinite-length encoding; Contents then
	// excludes the end-of-contents octets.
	Indefinite bool
	// Offset is the offset of the identifier octet in the input.
	Offset int
	// HeaderLen is the length of the identifier and length octets.
	HeaderLen int
	// Contents are the contents octets.
	Contents []byte

	depth  int
	lim    Limits
	budget *atomic.Int64 // shared by everything read from one Parse
}

// Is reports whether e has the given class, tag number and form.
func (e Element) Is(class Class, tag uint32, constructed bool) bool {
	return e.Class == class && e.Tag == tag && e.Constructed == constructed
}

// Children returns a reader over the elements inside a constructed element.
func (e Element) Children() (Reader, error) {
	if !e.Constructed {
		return Reader{}, &Error{e.Offset, ErrSyntax, "primitive element has no children"}
	}
	if e.depth+1 > e.lim.MaxDepth {
		return Reader{}, &Error{e.Offset, ErrLimit, "nesting deeper than " + strconv.Itoa(e.lim.MaxDepth)}
	}
	return Reader{data: e.Contents, off: e.Offset + e.HeaderLen, depth: e.depth + 1, lim: e.lim, budget: e.budget}, nil
}

// Segments calls fn with the contents of a string-like element: the contents
// of a primitive element, or, for a constructed one, of each of its
// segments in order, which must be universal OCTET STRINGs (themselves
// primitive or constructed, within the depth limit). Segments does not
// allocate. The slices alias the input.
func (e Element) Segments(fn func(seg []byte)) error {
	if !e.Constructed {
		fn(e.Contents)
		return nil
	}
	r, err := e.Children()
	if err != nil {
		return err
	}
	for !r.Empty() {
		c, err := r.Next()
		if err != nil {
			return err
		}
		if c.Class != ClassUniversal || c.Tag != TagOctetString {
			return &Error{c.Offset, ErrSyntax, "segment of a constructed string is not an OCTET STRING"}
		}
		if err := c.Segments(fn); err != nil {
			return err
		}
	}
	return nil
}

// Reader reads consecutive elements.
type Reader struct {
	data  []byte
	off   int  // offset of data[0] in the input
	depth int  // depth of the elements this reader returns
	top   bool // data ends where the input ends: running out is truncation
	lim   Limits
	// budget is what is left of lim.MaxElements for the input: nil in a
	// zero Reader, which then has no elements.
	budget *atomic.Int64
}

// Parse decodes input as exactly one element, within lim (zero fields take
// the defaults). Trailing bytes are an error.
func Parse(input []byte, lim Limits) (Element, error) {
	lim = lim.norm()
	if len(input) > lim.MaxInput {
		return Element{}, &Error{0, ErrLimit, "input of " + strconv.Itoa(len(input)) +
			" bytes exceeds the limit of " + strconv.Itoa(lim.MaxInput)}
	}
	budget := new(atomic.Int64)
	budget.Store(int64(lim.MaxElements))
	r := Reader{data: input, top: true, lim: lim, budget: budget}
	e, err := r.Next()
	if err != nil {
		return Element{}, err
	}
	if !r.Empty() {
		return Element{}, &Error{r.off, ErrSyntax, strconv.Itoa(len(r.data)) + " trailing bytes after the element"}
	}
	return e, nil
}

// Empty reports whether the reader has no more input.
func (r *Reader) Empty() bool { return len(r.data) == 0 }

// Offset returns the input offset of the next element.
func (r *Reader) Offset() int { return r.off }

// Next decodes the next element.
func (r *Reader) Next() (Element, error) {
	h, err := parseHeader(r.data, r.off, r.top)
	if err != nil {
		return Element{}, err
	}
	if h.class == ClassUniversal && h.tag == 0 {
		return Element{}, &Error{r.off, ErrSyntax, "unexpected end-of-contents"}
	}
	clen := h.length
	total := h.hlen + h.length
	if h.indefinite {
		n, err := r.lim.walk(r.data[h.hlen:], r.off+h.hlen, r.depth+1, r.top, r.budget)
		if err != nil {
			return Element{}, err
		}
		clen = n
		total = h.hlen + n + 2
	}
	e := Element{
		Class:       h.class,
		Tag:         h.tag,
		Constructed: h.constructed,
		Indefinite:  h.indefinite,
		Offset:      r.off,
		HeaderLen:   h.hlen,
		Contents:    r.data[h.hlen : h.hlen+clen : h.hlen+clen],
		depth:       r.depth,
		lim:         r.lim,
		budget:      r.budget,
	}
	r.data = r.data[total:]
	r.off += total
	return e, nil
}

// walk finds the end-of-contents octets closing an indefinite-length element
// whose contents start at d[0] (input offset off) and returns the length of
// the contents before them. Children are at depth.
func (l Limits) walk(d []byte, off, depth int, top bool, budget *atomic.Int64) (int, error) {
	if depth > l.MaxDepth {
		return 0, &Error{off, ErrLimit, "nesting deeper than " + strconv.Itoa(l.MaxDepth)}
	}
	pos := 0
	for {
		if len(d)-pos >= 2 && d[pos] == 0 && d[pos+1] == 0 {
			return pos, nil
		}
		if pos == len(d) {
			return 0, overrun(off+pos, top, "missing end-of-contents")
		}
		h, err := parseHeader(d[pos:], off+pos, top)
		if err != nil {
			return 0, err
		}
		if h.class == ClassUniversal && h.tag == 0 {
			return 0, &Error{off + pos, ErrSyntax, "malformed end-of-contents"}
		}
		if budget.Add(-1) < 0 {
			return 0, &Error{off + pos, ErrLimit, "more than " + strconv.Itoa(l.MaxElements) + " elements"}
		}
		if h.indefinite {
			n, err := l.walk(d[pos+h.hlen:], off+pos+h.hlen, depth+1, top, budget)
			if err != nil {
				return 0, err
			}
			pos += h.hlen + n + 2
		} else {
			pos += h.hlen + h.length
		}
	}
}

type header struct {
	class       Class
	tag         uint32
	constructed bool
	indefinite  bool
	hlen        int
	length      int
}

// overrun is the error for an encoding that needs bytes past the end of d:
// truncation when d ends where the input ends, a syntax error (an element
// overrunning its definite-length parent) otherwise.
func overrun(off int, top bool, what string) error {
	if top {
		return &Error{off, ErrTruncated, what}
	}
	return &Error{off, ErrSyntax, what + " (overruns the enclosing element)"}
}

// parseHeader decodes the identifier and length octets at d[0] (input offset
// off) and checks that a definite length fits in d.
func parseHeader(d []byte, off int, top bool) (header, error) {
	var h header
	if len(d) < 2 {
		return h, overrun(off, top, "incomplete element header")
	}
	b := d[0]
	h.class = Class(b >> 6)
	h.constructed = b&0x20 != 0
	i := 1
	if b&0x1f != 0x1f {
		h.tag = uint32(b & 0x1f)
	} else {
		var t uint32
		for n := 0; ; n++ {
			if i >= len(d) {
				return h, overrun(off, top, "incomplete tag number")
			}
			if n == maxTagOctets {
				return h, &Error{off, ErrSyntax, "tag number too large"}
			}
			c := d[i]
			i++
			if n == 0 && c == 0x80 {
				return h, &Error{off, ErrSyntax, "non-minimal tag number"}
			}
			t = t<<7 | uint32(c&0x7f)
			if c&0x80 == 0 {
				break
			}
		}
		if t < 0x1f {
			return h, &Error{off, ErrSyntax, "non-minimal tag number"}
		}
		h.tag = t
	}
	if i >= len(d) {
		return h, overrun(off, top, "incomplete element header")
	}
	l := d[i]
	i++
	switch {
	case l < 0x80:
		h.length = int(l)
	case l == 0x80:
		if !h.constructed {
			return h, &Error{off, ErrSyntax, "indefinite length on a primitive element"}
		}
		h.indefinite = true
	case l == 0xff:
		return h, &Error{off, ErrSyntax, "reserved length octet 0xff"}
	default:
		n := int(l & 0x7f)
		if n > maxLengthOctets {
			return h, &Error{off, ErrSyntax, "length with " + strconv.Itoa(n) + " octets"}
		}
		if len(d)-i < n {
			return h, overrun(off, top, "incomplete length")
		}
		var v uint64
		for ; n > 0; n-- {
			v = v<<8 | uint64(d[i])
			i++
		}
		if v > uint64(len(d)-i) {
			return h, overrun(off, top, "length "+strconv.FormatUint(v, 10)+" exceeds the "+strconv.Itoa(len(d)-i)+" bytes left")
		}
		h.length = int(v)
	}
	if !h.indefinite && h.length > len(d)-i {
		return h, overrun(off, top, "length "+strconv.Itoa(h.length)+" exceeds the "+strconv.Itoa(len(d)-i)+" bytes left")
	}
	h.hlen = i
	return h, nil
}
