// SPDX-License-Identifier: Apache-2.0

//lint:file-ignore SA1019 these tests build invalid keys from raw coordinates on purpose

package es384

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"math/big"
	mrand "math/rand/v2"
	"testing"
)

var (
	n384  = elliptic.P384().Params().N
	p384p = elliptic.P384().Params().P
)

// scalar encodes v in 48 bytes (v must fit).
func scalar(v *big.Int) []byte { return v.FillBytes(make([]byte, ScalarSize)) }

func sig96(r, s *big.Int) []byte { return append(scalar(r), scalar(s)...) }

func mustKey(t testing.TB, pub *ecdsa.PublicKey) *PublicKey {
	t.Helper()
	k, err := NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// baseMult is d·G as an uncompressed point, computed by crypto/ecdh (d
// is reduced mod N and must not be zero).
func baseMult(d *big.Int) []byte {
	d = new(big.Int).Mod(d, n384)
	k, err := ecdh.P384().NewPrivateKey(scalar(d))
	if err != nil {
		panic(err)
	}
	return k.PublicKey().Bytes()
}

// keyFromScalar is the public key d·G (d may be any non-zero value mod N).
func keyFromScalar(d *big.Int) *ecdsa.PublicKey {
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P384(), baseMult(d))
	if err != nil {
		panic(err)
	}
	return pub
}

// agree checks Verify against crypto/ecdsa.Verify on one input and
// returns the common verdict.
func agree(t *testing.T, name string, k *PublicKey, digest, sig []byte) bool {
	t.Helper()
	var want bool
	if len(sig) == SignatureSize {
		want = ecdsa.Verify(k.std, digest, new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:]))
	}
	got := Verify(k, digest, sig)
	if got != want {
		t.Errorf("%s: Verify = %v, crypto/ecdsa = %v (digest %x, sig %x)", name, got, want, digest, sig)
	}
	if len(sig) == SignatureSize {
		if std := verifyStd(k, digest, sig[:48], sig[48:]); std != want {
			t.Errorf("%s: the fallback path = %v, crypto/ecdsa = %v", name, std, want)
		}
	}
	der := encodeDER(sig)
	if der != nil {
		if g, w := VerifyASN1(k, digest, der), ecdsa.VerifyASN1(k.std, digest, der); g != w || g != want {
			t.Errorf("%s: VerifyASN1 = %v, crypto/ecdsa = %v", name, g, w)
		}
	}
	return want
}

// encodeDER is the minimal DER of r||s (nil for another length).
func encodeDER(sig []byte) []byte {
	if len(sig) != SignatureSize {
		return nil
	}
	integer := func(b []byte) []byte {
		b = bytes.TrimLeft(b, "\x00")
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return append([]byte{0x02, byte(len(b))}, b...)
	}
	body := append(integer(sig[:48]), integer(sig[48:])...)
	if len(body) < 128 {
		return append([]byte{0x30, byte(len(body))}, body...)
	}
	return append([]byte{0x30, 0x81, byte(len(body))}, body...)
}

// chosen makes a signature whose verification computes u1·G + u2·Q for the
// chosen u1, u2 and key d·G, by choosing the digest: r = x(u1·G + u2·Q) mod
// N, s = r/u2, e = u1·s. It returns ok=false when r would be zero.
func chosen(d, u1, u2 *big.Int) (pub *ecdsa.PublicKey, digest, sig []byte, ok bool) {
	pub = keyFromScalar(d)
	k := new(big.Int).Mul(u2, d)
	k.Add(k, u1).Mod(k, n384)
	if k.Sign() == 0 {
		return pub, nil, nil, false
	}
	r := new(big.Int).SetBytes(baseMult(k)[1:49])
	r.Mod(r, n384)
	if r.Sign() == 0 {
		return pub, nil, nil, false
	}
	s := new(big.Int).ModInverse(u2, n384)
	s.Mul(s, r).Mod(s, n384)
	e := new(big.Int).Mul(u1, s)
	e.Mod(e, n384)
	return pub, scalar(e), sig96(r, s), true
}

func TestFastPathSelected(t *testing.T) {
	t.Logf("es384.Fast = %v", Fast)
}

func TestNewPublicKeyRejects(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	good, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	offY := new(big.Int).Add(good.Y, big.NewInt(1))
	for name, pub := range map[string]*ecdsa.PublicKey{
		"nil":         nil,
		"P-256":       &p256.PublicKey,
		"P-521":       &p521.PublicKey,
		"nil X":       {Curve: elliptic.P384(), Y: good.Y},
		"infinity":    {Curve: elliptic.P384(), X: new(big.Int), Y: new(big.Int)},
		"off curve":   {Curve: elliptic.P384(), X: good.X, Y: offY},
		"X+p":         {Curve: elliptic.P384(), X: new(big.Int).Add(good.X, p384p), Y: good.Y},
		"Y+p":         {Curve: elliptic.P384(), X: good.X, Y: new(big.Int).Add(good.Y, p384p)},
		"negative Y":  {Curve: elliptic.P384(), X: good.X, Y: new(big.Int).Neg(good.Y)},
		"P-256 curve": {Curve: elliptic.P256(), X: good.X, Y: good.Y},
	} {
		if _, err := NewPublicKey(pub); err == nil {
			t.Errorf("%s: accepted", name)
		}
		// crypto/ecdsa never verifies anything with these keys as P-384
		// keys either: a valid P-384 signature under good's key fails.
		if pub != nil && pub.X != nil && pub.Curve == elliptic.P384() {
			d := sha512.Sum384([]byte("m"))
			r, s, _ := ecdsa.Sign(rand.Reader, good, d[:])
			if ecdsa.Verify(pub, d[:], r, s) {
				t.Errorf("%s: crypto/ecdsa verifies", name)
			}
		}
	}
	// The key is copied: changing the caller's key changes nothing.
	k := mustKey(t, &good.PublicKey)
	d := sha512.Sum384([]byte("m"))
	r, s, _ := ecdsa.Sign(rand.Reader, good, d[:])
	cp := good.PublicKey
	cp.X = new(big.Int).Set(good.X)
	k2 := mustKey(t, &cp)
	cp.X.SetInt64(5)
	if !Verify(k2, d[:], sig96(r, s)) || !Verify(k, d[:], sig96(r, s)) || !k.Equal(k2) {
		t.Error("key not copied")
	}
	if !k.ECDSA().Equal(&good.PublicKey) {
		t.Error("ECDSA() differs")
	}
	if Verify(nil, d[:], sig96(r, s)) || VerifyASN1(nil, d[:], nil) {
		t.Error("nil key verifies")
	}
}

func TestEdgeCases(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	k := mustKey(t, &priv.PublicKey)
	digest := sha512.Sum384([]byte("document"))
	r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	highS := new(big.Int).Sub(n384, s)
	one := big.NewInt(1)
	nMinus1 := new(big.Int).Sub(n384, one)
	nPlus := func(v *big.Int) *big.Int { return new(big.Int).Add(n384, v) }
	max384 := new(big.Int).Sub(new(big.Int).Lsh(one, 384), one)
	zero := new(big.Int)

	valid := map[string]bool{"valid": true, "high-S": true}
	for name, sig := range map[string][]byte{
		"valid":           sig96(r, s),
		"high-S":          sig96(r, highS),
		"r = 0":           sig96(zero, s),
		"s = 0":           sig96(r, zero),
		"r = s = 0":       sig96(zero, zero),
		"r = N":           sig96(n384, s),
		"s = N":           sig96(r, n384),
		"r = N+1":         sig96(nPlus(one), s),
		"s = N+1":         sig96(r, nPlus(one)),
		"r = 2^384-1":     sig96(max384, s),
		"s = 2^384-1":     sig96(r, max384),
		"r = N-1":         sig96(nMinus1, s),
		"s = N-1":         sig96(r, nMinus1),
		"r = 1, s = 1":    sig96(one, one),
		"swapped":         sig96(s, r),
		"95 bytes":        sig96(r, s)[:95],
		"97 bytes":        append(sig96(r, s), 0),
		"empty":           nil,
		"r+1":             sig96(new(big.Int).Add(r, one), s),
		"s+1":             sig96(r, new(big.Int).Add(s, one)),
		"high-S, r = N+1": sig96(nPlus(one), highS),
	} {
		if got := agree(t, name, k, digest[:], sig); got != valid[name] {
			t.Errorf("%s: verdict %v, want %v", name, got, valid[name])
		}
	}
	// Digest lengths and values: crypto/ecdsa truncates to 48 bytes and
	// reduces mod N.
	long := append(digest[:], 0xde, 0xad)
	rl, sl, _ := ecdsa.Sign(rand.Reader, priv, long)
	if !agree(t, "64-byte digest", k, long, sig96(rl, sl)) {
		t.Error("64-byte digest rejected")
	}
	if agree(t, "64-byte digest, other tail", k, append(digest[:], 0xbe, 0xef), sig96(rl, sl)) != true {
		t.Error("the bytes after the first 48 must not matter")
	}
	short := digest[:20]
	rs, ss, _ := ecdsa.Sign(rand.Reader, priv, short)
	if !agree(t, "20-byte digest", k, short, sig96(rs, ss)) {
		t.Error("20-byte digest rejected")
	}
	for name, d := range map[string][]byte{
		"empty digest": nil,
		"zero digest":  make([]byte, 48),
		"digest N":     scalar(n384),
		"digest max":   scalar(max384),
	} {
		rd, sd, _ := ecdsa.Sign(rand.Reader, priv, d)
		if !agree(t, name, k, d, sig96(rd, sd)) {
			t.Errorf("%s: own signature rejected", name)
		}
		agree(t, name+", other sig", k, d, sig96(r, s))
	}
}

// TestChosenScalars drives the double-scalar multiplication into its
// exceptional cases: keys that are small multiples of G (so the table of
// Q's multiples meets G's), small u1 and u2 (doublings and additions of a
// point to itself or its negation), u1 = 0 (digest ≡ 0 mod N), and
// u1·G + u2·Q = O, the point at infinity.
func TestChosenScalars(t *testing.T) {
	ds := []int64{1, 2, -1, -3}
	us := []int64{0, 1, 2, 3, 4, 16, 31, 64, -1, -2}
	if raceDetector {
		ds, us = ds[:2], []int64{0, 1, 2, 3, 16, -1}
	}
	mod := func(v int64) *big.Int { return new(big.Int).Mod(big.NewInt(v), n384) }
	var checked, infinity int
	for _, d := range ds {
		for _, u1 := range us {
			for _, u2 := range us {
				if u2 == 0 {
					continue // u2 = r/s is never zero
				}
				pub, digest, sig, ok := chosen(mod(d), mod(u1), mod(u2))
				k := mustKey(t, pub)
				if !ok {
					// u1 + u2·d ≡ 0: the sum is the point at infinity.
					// Any r then fails; try r = 1 with the matching s.
					infinity++
					r := mod(1)
					s := new(big.Int).ModInverse(mod(u2), n384)
					e := new(big.Int).Mul(mod(u1), s)
					e.Mod(e, n384)
					if agree(t, "infinity", k, scalar(e), sig96(r, s)) {
						t.Errorf("d=%d u1=%d u2=%d: the point at infinity verified", d, u1, u2)
					}
					continue
				}
				checked++
				if !agree(t, "chosen", k, digest, sig) {
					t.Errorf("d=%d u1=%d u2=%d: valid signature rejected", d, u1, u2)
				}
			}
		}
	}
	if infinity == 0 || checked == 0 {
		t.Fatalf("cases: %d valid, %d at infinity", checked, infinity)
	}
}

// TestRandom compares both paths on random keys, digests and signatures,
// valid, high-S and corrupted.
func TestRandom(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	n := 100
	if testing.Short() || raceDetector {
		n = 15
	}
	for i := range n {
		priv, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		k := mustKey(t, &priv.PublicKey)
		digest := make([]byte, 48)
		for j := range digest {
			digest[j] = byte(rng.Uint32())
		}
		r, s, _ := ecdsa.Sign(rand.Reader, priv, digest)
		sig := sig96(r, s)
		if i%2 == 1 {
			sig = sig96(r, new(big.Int).Sub(n384, s))
		}
		if !agree(t, "random", k, digest, sig) {
			t.Fatal("valid signature rejected")
		}
		bad := bytes.Clone(sig)
		bad[rng.IntN(len(bad))] ^= byte(1 << rng.IntN(8))
		agree(t, "bit flip", k, digest, bad)
		d2 := bytes.Clone(digest)
		d2[rng.IntN(48)] ^= 1
		agree(t, "other digest", k, d2, sig)
	}
}

// TestASN1 compares VerifyASN1 with crypto/ecdsa.VerifyASN1 on DER
// encodings, minimal or not.
func TestASN1(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	k := mustKey(t, &priv.PublicKey)
	digest := sha512.Sum384([]byte("tbs"))
	der, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	r, s, _ := ecdsa.Sign(rand.Reader, priv, digest[:])
	rb, sb := r.Bytes(), s.Bytes()
	integer := func(b []byte) []byte { return append([]byte{0x02, byte(len(b))}, b...) }
	seq := func(body ...[]byte) []byte {
		b := bytes.Join(body, nil)
		if len(b) < 128 {
			return append([]byte{0x30, byte(len(b))}, b...)
		}
		return append([]byte{0x30, 0x81, byte(len(b))}, b...)
	}
	pad := func(b []byte, n int) []byte { return append(make([]byte, n), b...) }
	cases := map[string][]byte{
		"signed":             der,
		"minimal":            encodeDER(sig96(r, s)),
		"trailing byte":      append(bytes.Clone(der), 0),
		"extra leading zero": seq(integer(pad(rb, 1)), integer(sb)),
		"two leading zeros":  seq(integer(pad(rb, 2)), integer(sb)),
		"negative r":         seq(integer(append([]byte{0xff}, rb...)), integer(sb)),
		"third integer":      seq(integer(rb), integer(sb), integer([]byte{1})),
		"one integer":        seq(integer(rb)),
		"empty":              nil,
		"zero r":             seq(integer([]byte{0}), integer(sb)),
		"r of 49 bytes":      seq(integer(append([]byte{1}, pad(rb, 48-len(rb))...)), integer(sb)),
		"r = N":              seq(integer(append([]byte{0}, n384.Bytes()...)), integer(sb)),
		"long-form length":   append([]byte{0x30, 0x81, der[1]}, der[2:]...),
		"set, not sequence":  append([]byte{0x31}, der[1:]...),
		"octet string ints":  seq(append([]byte{0x04, byte(len(rb))}, rb...), integer(sb)),
	}
	for i := range der {
		for _, bit := range []byte{1, 0x80} {
			m := bytes.Clone(der)
			m[i] ^= bit
			cases["flip "+string(rune('a'+i%26))+string(rune('0'+bit%10))+"-"+itoa(i)] = m
		}
	}
	for name, sig := range cases {
		if got, want := VerifyASN1(k, digest[:], sig), ecdsa.VerifyASN1(&priv.PublicKey, digest[:], sig); got != want {
			t.Errorf("%s: VerifyASN1 = %v, crypto/ecdsa = %v (%x)", name, got, want, sig)
		}
	}
	if !VerifyASN1(k, digest[:], der) {
		t.Error("valid DER rejected")
	}
}

func itoa(i int) string { return big.NewInt(int64(i)).String() }

// FuzzVerify compares Verify and VerifyASN1 with crypto/ecdsa on arbitrary
// digests and signatures, under a fixed key and under keys d·G for small
// d (where exceptional additions are likeliest).
func FuzzVerify(f *testing.F) {
	priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	digest := sha512.Sum384([]byte("seed"))
	r, s, _ := ecdsa.Sign(rand.Reader, priv, digest[:])
	f.Add(uint8(0), digest[:], sig96(r, s))
	f.Add(uint8(0), digest[:], sig96(r, new(big.Int).Sub(n384, s)))
	f.Add(uint8(1), make([]byte, 48), sig96(big.NewInt(1), big.NewInt(1)))
	f.Add(uint8(2), scalar(n384), sig96(n384, n384))
	der, _ := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	f.Add(uint8(0), digest[:], der)
	keys := []*ecdsa.PublicKey{&priv.PublicKey}
	for _, d := range []int64{1, 2, 3, -1} {
		keys = append(keys, keyFromScalar(big.NewInt(d)))
	}
	pks := make([]*PublicKey, len(keys))
	for i, pub := range keys {
		pks[i] = mustKey(f, pub)
	}
	f.Fuzz(func(t *testing.T, ki uint8, digest, sig []byte) {
		i := int(ki) % len(keys)
		if len(sig) == SignatureSize {
			want := ecdsa.Verify(keys[i], digest, new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:]))
			if got := Verify(pks[i], digest, sig); got != want {
				t.Fatalf("Verify = %v, crypto/ecdsa = %v", got, want)
			}
		} else if Verify(pks[i], digest, sig) {
			t.Fatalf("Verify accepts a %d-byte signature", len(sig))
		}
		if got, want := VerifyASN1(pks[i], digest, sig), ecdsa.VerifyASN1(keys[i], digest, sig); got != want {
			t.Fatalf("VerifyASN1 = %v, crypto/ecdsa = %v", got, want)
		}
	})
}
