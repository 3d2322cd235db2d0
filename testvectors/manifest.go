// SPDX-License-Identifier: Apache-2.0

package testvectors

import (
	"bytes"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"github.com/enclavekit/enclavekit/attestation"
)

// FS holds the vectors, root.pem and manifest.json.
//
//go:embed manifest.json root.pem *.cbor
var FS embed.FS

// Valid is the Expect value of a document that must verify.
const Valid = "valid"

// Manifest lists the vectors.
type Manifest struct {
	// Root is the file holding the PEM root every vector is verified
	// against.
	Root string `json:"root"`
	// Vectors are the documents, in generation order.
	Vectors []Vector `json:"vectors"`
}

// Vector is one document and what verifying it must give.
type Vector struct {
	// File is the name of the raw COSE_Sign1 file.
	File string `json:"file"`
	// Description says what is special about the document.
	Description string `json:"description"`
	// Expect is [Valid] or the attestation error code (attestation.ErrorCode).
	Expect string `json:"expect"`
	// Time is the verification time (RFC 3339).
	Time string `json:"time"`
	// AtDocumentTime verifies at the document's own timestamp instead.
	AtDocumentTime bool `json:"at_document_time,omitempty"`
	// MaxAge is a Go duration ("5m"), empty for none.
	MaxAge string `json:"max_age,omitempty"`
	// AllowDebug sets AllowDebugUnsafe.
	AllowDebug bool `json:"allow_debug,omitempty"`
	// PCRs are expected PCR values by decimal index, in hex.
	PCRs map[string]string `json:"pcrs,omitempty"`
	// Nonce, UserData and PublicKey are expected values in hex, empty for
	// none.
	Nonce     string `json:"nonce,omitempty"`
	UserData  string `json:"user_data,omitempty"`
	PublicKey string `json:"public_key,omitempty"`
}

// Load reads the manifest and the root from fsys (use [FS]).
func Load(fsys fs.FS) (*Manifest, []*x509.Certificate, error) {
	b, err := fs.ReadFile(fsys, "manifest.json")
	if err != nil {
		return nil, nil, err
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, nil, fmt.Errorf("testvectors: manifest: %w", err)
	}
	pb, err := fs.ReadFile(fsys, m.Root)
	if err != nil {
		return nil, nil, err
	}
	roots, err := attestation.ParseRootsPEM(pb)
	if err != nil {
		return nil, nil, fmt.Errorf("testvectors: %s: %w", m.Root, err)
	}
	return &m, roots, nil
}

// Options returns the verification options of v, trusting roots.
func (v *Vector) Options(roots []*x509.Certificate) (attestation.Options, error) {
	o := attestation.Options{Roots: roots, AtDocumentTime: v.AtDocumentTime, AllowDebugUnsafe: v.AllowDebug}
	var err error
	if o.CurrentTime, err = time.Parse(time.RFC3339Nano, v.Time); err != nil {
		return o, fmt.Errorf("testvectors: %s: time: %w", v.File, err)
	}
	if v.MaxAge != "" {
		if o.MaxAge, err = time.ParseDuration(v.MaxAge); err != nil {
			return o, fmt.Errorf("testvectors: %s: max_age: %w", v.File, err)
		}
	}
	for k, h := range v.PCRs {
		i, err := strconv.Atoi(k)
		if err != nil {
			return o, fmt.Errorf("testvectors: %s: PCR index %q", v.File, k)
		}
		b, err := hex.DecodeString(h)
		if err != nil {
			return o, fmt.Errorf("testvectors: %s: PCR%d: %w", v.File, i, err)
		}
		if o.PCRs == nil {
			o.PCRs = map[int][]byte{}
		}
		o.PCRs[i] = b
	}
	for _, f := range []struct {
		s   string
		dst *[]byte
	}{{v.Nonce, &o.Nonce}, {v.UserData, &o.UserData}, {v.PublicKey, &o.PublicKey}} {
		if f.s == "" {
			continue
		}
		if *f.dst, err = hex.DecodeString(f.s); err != nil {
			return o, fmt.Errorf("testvectors: %s: %w", v.File, err)
		}
	}
	return o, nil
}
