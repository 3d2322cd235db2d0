// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// jkind is the type of a decoded JSON value.
type jkind uint8

const (
	jString jkind = iota
	jNumber
	jBool
	jNull
	jArray
	jObject
)

func (k jkind) String() string {
	switch k {
	case jString:
		return "string"
	case jNumber:
		return "number"
	case jBool:
		return "boolean"
	case jNull:
		return "null"
	case jArray:
		return "array"
	default:
		return "object"
	}
}

// jval is a JSON value decoded without loss: object members keep their order
// and duplicates are refused while decoding, numbers keep their literal text.
type jval struct {
	kind jkind
	s    string // string value, number literal, "true"/"false"
	arr  []jval
	obj  []jmember
}

type jmember struct {
	key string
	val jval
}

// decodeStrict decodes exactly one JSON value from doc. Unlike
// encoding/json.Unmarshal it rejects duplicate object members (the last one
// would silently win, a classic parser-differential hazard), invalid UTF-8
// (which encoding/json replaces silently), nesting deeper than MaxDepth and
// trailing data.
func decodeStrict(doc []byte) (jval, error) {
	if !utf8.Valid(doc) {
		return jval{}, &ParseError{Msg: "document is not valid UTF-8", Err: ErrMalformed}
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := readValue(dec, "", 0)
	if err != nil {
		return jval{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return jval{}, &ParseError{Msg: "unexpected data after the policy object", Err: ErrMalformed}
	}
	return v, nil
}

func jsonErr(path string, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return &ParseError{Path: path, Msg: "invalid JSON: " + err.Error(), Err: ErrMalformed}
}

func readValue(dec *json.Decoder, path string, depth int) (jval, error) {
	if depth > MaxDepth {
		return jval{}, &ParseError{Path: path, Msg: fmt.Sprintf("nesting deeper than %d levels", MaxDepth), Err: ErrTooLarge}
	}
	tok, err := dec.Token()
	if err != nil {
		return jval{}, jsonErr(path, err)
	}
	switch t := tok.(type) {
	case string:
		return jval{kind: jString, s: t}, nil
	case json.Number:
		return jval{kind: jNumber, s: t.String()}, nil
	case bool:
		if t {
			return jval{kind: jBool, s: "true"}, nil
		}
		return jval{kind: jBool, s: "false"}, nil
	case nil:
		return jval{kind: jNull}, nil
	case json.Delim:
		switch t {
		case '{':
			v := jval{kind: jObject}
			seen := make(map[string]struct{})
			for dec.More() {
				ktok, err := dec.Token()
				if err != nil {
					return jval{}, jsonErr(path, err)
				}
				key, ok := ktok.(string)
				if !ok {
					return jval{}, &ParseError{Path: path, Msg: "invalid JSON: object key is not a string", Err: ErrMalformed}
				}
				if _, dup := seen[key]; dup {
					return jval{}, &ParseError{Path: path, Msg: fmt.Sprintf("duplicate member %q", key), Err: ErrMalformed}
				}
				seen[key] = struct{}{}
				mv, err := readValue(dec, joinPath(path, key), depth+1)
				if err != nil {
					return jval{}, err
				}
				v.obj = append(v.obj, jmember{key: key, val: mv})
			}
			if _, err := dec.Token(); err != nil { // the closing '}'
				return jval{}, jsonErr(path, err)
			}
			return v, nil
		case '[':
			v := jval{kind: jArray}
			for dec.More() {
				ev, err := readValue(dec, fmt.Sprintf("%s[%d]", path, len(v.arr)), depth+1)
				if err != nil {
					return jval{}, err
				}
				v.arr = append(v.arr, ev)
			}
			if _, err := dec.Token(); err != nil { // the closing ']'
				return jval{}, jsonErr(path, err)
			}
			return v, nil
		}
	}
	return jval{}, &ParseError{Path: path, Msg: fmt.Sprintf("invalid JSON: unexpected %v", tok), Err: ErrMalformed}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
