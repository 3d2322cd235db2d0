// SPDX-License-Identifier: Apache-2.0

package eif

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
)

// HashAlgorithm is the "HashAlgorithm" value nitro-cli prints (the Rust
// Debug form of its SHA-384 hasher).
const HashAlgorithm = "Sha384 { ... }"

// Description is the JSON object `nitro-cli describe-eif` prints, field
// for field (nitro-cli's EifDescribeInfo). Since [Read] refuses an image
// whose CRC or signature does not check, CheckCRC is always true and
// SignatureCheck true when present.
type Description struct {
	EifVersion         uint16                `json:"EifVersion"`
	Measurements       DescribedMeasurements `json:"Measurements"`
	IsSigned           bool                  `json:"IsSigned"`
	SigningCertificate *DescribedCertificate `json:"SigningCertificate,omitempty"`
	CheckCRC           bool                  `json:"CheckCRC"`
	SignatureCheck     *bool                 `json:"SignatureCheck,omitempty"`
	ImageName          *string               `json:"ImageName,omitempty"`
	ImageVersion       *string               `json:"ImageVersion,omitempty"`
	Metadata           json.RawMessage       `json:"Metadata,omitempty"`
}

// DescribedMeasurements is the "Measurements" object, also accepted by
// nitro-verify --pcrs: lower-case hex PCRs and the hash algorithm.
type DescribedMeasurements struct {
	HashAlgorithm string `json:"HashAlgorithm"`
	PCR0          string `json:"PCR0"`
	PCR1          string `json:"PCR1"`
	PCR2          string `json:"PCR2"`
	PCR8          string `json:"PCR8,omitempty"`
}

// DescribedCertificate is nitro-cli's SignCertificateInfo: OpenSSL's
// long attribute names for the issuer, the signature algorithm's long
// name, OpenSSL's time format, and the certificate's signature as
// colon-separated upper-case hex.
type DescribedCertificate struct {
	IssuerName map[string]string `json:"IssuerName"`
	Algorithm  string            `json:"Algorithm"`
	NotBefore  string            `json:"NotBefore"`
	NotAfter   string            `json:"NotAfter"`
	Signature  string            `json:"Signature"`
}

// Describe returns the image's description in describe-eif's shape.
func (img *Image) Describe() *Description {
	d := &Description{
		EifVersion: img.Version,
		Measurements: DescribedMeasurements{
			HashAlgorithm: HashAlgorithm,
			PCR0:          hex.EncodeToString(img.Measurements.PCR0),
			PCR1:          hex.EncodeToString(img.Measurements.PCR1),
			PCR2:          hex.EncodeToString(img.Measurements.PCR2),
			PCR8:          hex.EncodeToString(img.Measurements.PCR8),
		},
		CheckCRC: true,
	}
	if s := img.Signature; s != nil {
		ok := true
		d.IsSigned = true
		d.SignatureCheck = &ok
		d.SigningCertificate = describeCertificate(s.Certificate)
	}
	if m := img.Metadata; m != nil {
		name, version := m.ImageName, m.ImageVersion
		d.ImageName, d.ImageVersion = &name, &version
		d.Metadata = describeMetadata(m)
	}
	return d
}

// describeMetadata builds nitro-cli's MetadataDescribeInfo: the build
// fields, DockerInfo, and CustomMetadata flattened into the object (serde
// flatten) when it is an object; its keys that would repeat a build field
// are left out, and a non-object CustomMetadata is kept under its own key.
func describeMetadata(m *Metadata) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	field := func(k string, v []byte) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(v)
	}
	str := func(s string) []byte {
		var v bytes.Buffer
		enc := json.NewEncoder(&v)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
		return bytes.TrimSuffix(v.Bytes(), []byte("\n"))
	}
	bm := m.BuildMetadata
	field("BuildTime", str(bm.BuildTime))
	field("BuildTool", str(bm.BuildTool))
	field("BuildToolVersion", str(bm.BuildToolVersion))
	field("OperatingSystem", str(bm.OperatingSystem))
	field("KernelVersion", str(bm.KernelVersion))
	docker, err := canonicalJSON(m.DockerInfo)
	if err != nil {
		docker = json.RawMessage("null")
	}
	field("DockerInfo", docker)
	taken := map[string]bool{"BuildTime": true, "BuildTool": true, "BuildToolVersion": true, "OperatingSystem": true, "KernelVersion": true, "DockerInfo": true}
	var custom map[string]json.RawMessage
	switch c := bytes.TrimSpace(m.CustomMetadata); {
	case len(c) == 0 || string(c) == "null":
	case json.Unmarshal(c, &custom) == nil && custom != nil:
		keys := make([]string, 0, len(custom))
		for k := range custom {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if v, err := canonicalJSON(custom[k]); err == nil && !taken[k] {
				field(k, v)
			}
		}
	default:
		if v, err := canonicalJSON(c); err == nil {
			field("CustomMetadata", v)
		}
	}
	b.WriteByte('}')
	var out bytes.Buffer
	if json.Compact(&out, b.Bytes()) != nil {
		return nil
	}
	return out.Bytes()
}

// OpenSSL long names of common name attributes (OBJ_obj2txt).
var attributeNames = map[string]string{
	"2.5.4.3":                    "commonName",
	"2.5.4.4":                    "surname",
	"2.5.4.5":                    "serialNumber",
	"2.5.4.6":                    "countryName",
	"2.5.4.7":                    "localityName",
	"2.5.4.8":                    "stateOrProvinceName",
	"2.5.4.9":                    "streetAddress",
	"2.5.4.10":                   "organizationName",
	"2.5.4.11":                   "organizationalUnitName",
	"2.5.4.12":                   "title",
	"2.5.4.17":                   "postalCode",
	"2.5.4.42":                   "givenName",
	"1.2.840.113549.1.9.1":       "emailAddress",
	"0.9.2342.19200300.100.1.25": "domainComponent",
}

// OpenSSL long names of signature algorithms.
var algorithmNames = map[x509.SignatureAlgorithm]string{
	x509.ECDSAWithSHA256:  "ecdsa-with-SHA256",
	x509.ECDSAWithSHA384:  "ecdsa-with-SHA384",
	x509.ECDSAWithSHA512:  "ecdsa-with-SHA512",
	x509.SHA256WithRSA:    "sha256WithRSAEncryption",
	x509.SHA384WithRSA:    "sha384WithRSAEncryption",
	x509.SHA512WithRSA:    "sha512WithRSAEncryption",
	x509.SHA256WithRSAPSS: "rsassaPss",
	x509.SHA384WithRSAPSS: "rsassaPss",
	x509.SHA512WithRSAPSS: "rsassaPss",
	x509.PureEd25519:      "ED25519",
}

func describeCertificate(c *x509.Certificate) *DescribedCertificate {
	issuer := map[string]string{}
	for _, a := range c.Issuer.Names {
		k := a.Type.String()
		if n, ok := attributeNames[k]; ok {
			k = n
		}
		if s, ok := a.Value.(string); ok {
			issuer[k] = s
		}
	}
	alg, ok := algorithmNames[c.SignatureAlgorithm]
	if !ok {
		alg = c.SignatureAlgorithm.String()
	}
	const opensslTime = "Jan _2 15:04:05 2006 GMT"
	sig := strings.ToUpper(hex.EncodeToString(c.Signature))
	var parts []string
	for i := 0; i < len(sig); i += 2 {
		parts = append(parts, sig[i:i+2])
	}
	return &DescribedCertificate{
		IssuerName: issuer,
		Algorithm:  alg,
		NotBefore:  c.NotBefore.UTC().Format(opensslTime),
		NotAfter:   c.NotAfter.UTC().Format(opensslTime),
		Signature:  strings.Join(parts, ":"),
	}
}

// JSON returns the description as describe-eif prints it: indented by two
// spaces (serde_json's pretty printer), without HTML escaping, with a
// final newline.
func (d *Description) JSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
