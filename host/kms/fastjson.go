// SPDX-License-Identifier: Apache-2.0

package kms

import "encoding/base64"

// decodeGenerateDataKeyFast decodes the common shape of a GenerateDataKey
// body without encoding/json, whose byte-by-byte validity scan of the ~6 KB
// base64 attestation document was the largest request cost after the
// cryptography. It accepts only a strict subset of JSON: the members of
// generateDataKeyInput spelt exactly, each at most once; strings of
// printable ASCII without escapes; NumberOfBytes as a plain decimal of up to
// nine digits; no null. For anything else it returns false and the caller
// decodes with encoding/json, so every body it accepts decodes to exactly
// what encoding/json would produce (FuzzDecodeGenerateDataKeyFast checks
// that), and every other body gets encoding/json's behaviour and errors.
func decodeGenerateDataKeyFast(body []byte, in *generateDataKeyInput) bool {
	p := fastParser{b: body}
	var out generateDataKeyInput
	var seen uint8
	ok := p.object(func(name []byte) bool {
		var bit uint8
		switch string(name) {
		case "KeyId":
			bit = 1
			s, ok := p.str()
			out.KeyID = string(s)
			return p.once(&seen, bit) && ok
		case "KeySpec":
			bit = 2
			s, ok := p.str()
			out.KeySpec = string(s)
			return p.once(&seen, bit) && ok
		case "NumberOfBytes":
			n, ok := p.smallInt()
			out.NumberOfBytes = &n
			return p.once(&seen, 4) && ok
		case "DryRun":
			v, ok := p.boolean()
			out.DryRun = v
			return p.once(&seen, 8) && ok
		case "GrantTokens":
			out.GrantTokens = []string{}
			return p.once(&seen, 16) && p.array(func() bool {
				s, ok := p.str()
				out.GrantTokens = append(out.GrantTokens, string(s))
				return ok
			})
		case "EncryptionContext":
			out.EncryptionContext = map[string]string{}
			return p.once(&seen, 32) && p.object(func(k []byte) bool {
				v, ok := p.str()
				out.EncryptionContext[string(k)] = string(v)
				return ok
			})
		case "Recipient":
			ri := &recipientInfo{}
			out.Recipient = ri
			var rseen uint8
			return p.once(&seen, 64) && p.object(func(k []byte) bool {
				switch string(k) {
				case "KeyEncryptionAlgorithm":
					s, ok := p.str()
					ri.KeyEncryptionAlgorithm = string(s)
					return p.once(&rseen, 1) && ok
				case "AttestationDocument":
					s, ok := p.str()
					if !ok || !p.once(&rseen, 2) {
						return false
					}
					d := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
					n, err := base64.StdEncoding.Decode(d, s)
					ri.AttestationDocument = d[:n]
					return err == nil
				}
				return false
			})
		}
		return false
	})
	if !ok {
		return false
	}
	p.ws()
	if p.i != len(p.b) {
		return false
	}
	*in = out
	return true
}

// fastParser is the strict JSON subset reader behind
// decodeGenerateDataKeyFast. Every method returns false on anything outside
// the subset; the caller then falls back to encoding/json.
type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) once(seen *uint8, bit uint8) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// next skips whitespace and consumes c.
func (p *fastParser) next(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *fastParser) peek(c byte) bool {
	p.ws()
	return p.i < len(p.b) && p.b[p.i] == c
}

// str reads a string of printable ASCII without escapes and returns its
// contents (a sub-slice of the body).
func (p *fastParser) str() ([]byte, bool) {
	if !p.next('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := p.b[start:p.i]
			p.i++
			return s, true
		}
		if c < 0x20 || c > 0x7e || c == '\\' {
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// smallInt reads 0 or a decimal of one to nine digits without a leading
// zero, sign, fraction or exponent.
func (p *fastParser) smallInt() (int, bool) {
	p.ws()
	n, digits := 0, 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		if digits == 9 || (digits == 1 && n == 0) {
			return 0, false
		}
		n = n*10 + int(p.b[p.i]-'0')
		digits++
		p.i++
	}
	if digits == 0 || p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return 0, false
	}
	return n, true
}

func (p *fastParser) boolean() (bool, bool) {
	p.ws()
	rest := p.b[p.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		p.i += 4
		return true, true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		p.i += 5
		return false, true
	}
	return false, false
}

// object reads {"name": value, ...}, calling member after each name and
// colon to read the value.
func (p *fastParser) object(member func(name []byte) bool) bool {
	if !p.next('{') {
		return false
	}
	if p.next('}') {
		return true
	}
	for {
		name, ok := p.str()
		if !ok || !p.next(':') || !member(name) {
			return false
		}
		if p.next('}') {
			return true
		}
		if !p.next(',') || !p.peek('"') {
			return false
		}
	}
}

// array reads [value, ...], calling elem to read each value.
func (p *fastParser) array(elem func() bool) bool {
	if !p.next('[') {
		return false
	}
	if p.next(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if p.next(']') {
			return true
		}
		if !p.next(',') {
			return false
		}
	}
}
