// SPDX-License-Identifier: Apache-2.0

package recipient

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
)

// A small BER writer for building envelopes the tests need, valid and not.

// tlv is a definite-length element.
func tlv(tag byte, contents ...[]byte) []byte {
	c := bytes.Join(contents, nil)
	return append(appendLen([]byte{tag}, len(c)), c...)
}

// indef is an indefinite-length element.
func indef(tag byte, contents ...[]byte) []byte {
	out := []byte{tag, 0x80}
	for _, c := range contents {
		out = append(out, c...)
	}
	return append(out, 0, 0)
}

func oid(contents []byte) []byte { return tlv(0x06, contents) }

var (
	null       = []byte{0x05, 0x00}
	sha256Alg  = tlv(0x30, oid(oidSHA256), null)
	mgf1SHA256 = tlv(0x30, oid(oidMGF1), sha256Alg)
	oaepParams = tlv(0x30, tlv(0xa0, sha256Alg), tlv(0xa1, mgf1SHA256))
	oaepAlg    = tlv(0x30, oid(oidRSAESOAEP), oaepParams)
)

// envParts are the pieces of an envelope; encode assembles them in KMS's
// layout unless told otherwise. Fields hold whole encoded elements.
type envParts struct {
	contentType    []byte
	version        []byte
	originatorInfo []byte
	recipients     [][]byte // encoded RecipientInfo elements
	eciType        []byte
	contentAlg     []byte
	content        []byte // encoded [0] encryptedContent, nil for absent
	unprotected    []byte
	definite       bool // definite lengths for the outer layers too
	trailing       []byte
}

func (p envParts) encode() []byte {
	wrap := indef
	if p.definite {
		wrap = tlv
	}
	eci := wrap(0x30, p.eciType, p.contentAlg, p.content)
	ed := wrap(0x30, p.version, p.originatorInfo, tlv(0x31, p.recipients...), eci, p.unprotected)
	return append(wrap(0x30, p.contentType, wrap(0xa0, ed)), p.trailing...)
}

// ktri encodes a KeyTransRecipientInfo.
func ktri(version, rid, alg, ek []byte) []byte {
	return tlv(0x30, version, rid, alg, tlv(0x04, ek))
}

// testEnv holds a key, a plaintext, and valid parts encrypting it, to be
// modified by the tests.
type testEnv struct {
	key       *rsa.PrivateKey
	plaintext []byte
	cek, iv   []byte
	ek        []byte
	ct        []byte
	parts     envParts
}

func newTestEnv(t testing.TB, key *rsa.PrivateKey, plaintext []byte) *testEnv {
	t.Helper()
	e := &testEnv{key: key, plaintext: plaintext, cek: make([]byte, 32), iv: make([]byte, 16)}
	rand.Read(e.cek)
	rand.Read(e.iv)
	var err error
	e.ek, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, &key.PublicKey, e.cek, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.ct = cbcEncrypt(t, e.cek, e.iv, pkcs7(plaintext))
	e.parts = envParts{
		contentType: oid(oidEnvelopedData),
		version:     []byte{0x02, 0x01, 0x02},
		recipients:  [][]byte{ktri([]byte{0x02, 0x01, 0x02}, tlv(0x80, e.ski(t)), oaepAlg, e.ek)},
		eciType:     oid(oidData),
		contentAlg:  tlv(0x30, oid(oidAES256CBC), tlv(0x04, e.iv)),
		content:     indef(0xa0, tlv(0x04, e.ct)),
	}
	return e
}

func (e *testEnv) ski(t testing.TB) []byte {
	spki, err := PublicKeyDER(&e.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return SubjectKeyID(spki)
}

func pkcs7(b []byte) []byte {
	n := 16 - len(b)%16
	return append(bytes.Clone(b), bytes.Repeat([]byte{byte(n)}, n)...)
}

func cbcEncrypt(t testing.TB, key, iv, padded []byte) []byte {
	t.Helper()
	blk, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(padded))
	cipher.NewCBCEncrypter(blk, iv).CryptBlocks(out, padded)
	return out
}
