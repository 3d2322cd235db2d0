// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"encoding/hex"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// addPCRsRanging and lowestPCRRanging are addPCRs and lowestPCR as they
// were before they looked indexes up (ranging over the whole map every
// time): the reference TestAddPCRsMatchesRanging and FuzzAddPCRs hold the
// new ones to.
func addPCRsRanging(ctx map[string][]string, pcrs map[int][]byte, keys []string, sel uint32, alias0 string) {
	type span struct{ i, from, to int }
	var spans [MaxPCR + 1]span // no table is longer than pcrKeys
	want := func(i int) bool {
		return i >= 0 && i < len(keys) && (sel&(1<<i) != 0 || i == 0 && alias0 != "")
	}
	n, size := 0, 0
	for i, v := range pcrs {
		if want(i) {
			n++
			size += hex.EncodedLen(len(v))
		}
	}
	if n == 0 {
		return
	}
	var sb strings.Builder
	sb.Grow(size)
	var tmp [128]byte
	k := 0
	for i, v := range pcrs {
		if !want(i) {
			continue
		}
		from := sb.Len()
		for len(v) > 0 {
			c := min(len(v), len(tmp)/2)
			sb.Write(tmp[:hex.Encode(tmp[:], v[:c])])
			v = v[c:]
		}
		spans[k] = span{i, from, sb.Len()}
		k++
	}
	all := sb.String()
	vals := make([]string, n)
	for j, sp := range spans[:n] {
		vals[j] = all[sp.from:sp.to]
		v := vals[j : j+1 : j+1]
		if sel&(1<<sp.i) != 0 {
			ctx[keys[sp.i]] = v
		}
		if sp.i == 0 && alias0 != "" {
			ctx[alias0] = v
		}
	}
}
func lowestPCRRanging(pcrs map[int][]byte, n int) uint32 {
	low := n
	for i := range pcrs {
		if i >= 0 && i < low {
			low = i
		}
	}
	if low == n {
		return 0
	}
	return 1 << low
}

// checkAddPCRs fails unless addPCRs and lowestPCR give what the ranging
// versions give for pcrs, sel and alias0, with both key tables.
func checkAddPCRs(t *testing.T, pcrs map[int][]byte, sel uint32, alias0 string) {
	t.Helper()
	for _, keys := range [][]string{pcrKeys, nitroTPMPCRKeys} {
		got, want := map[string][]string{"aws:SecureTransport": {"true"}}, map[string][]string{"aws:SecureTransport": {"true"}}
		addPCRs(got, pcrs, keys, sel, alias0)
		addPCRsRanging(want, pcrs, keys, sel, alias0)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("PCRs %v, sel %#x, alias %q, %d keys:\ngot  %v\nwant %v", keysOf(pcrs), sel, alias0, len(keys), got, want)
		}
		for k, v := range got {
			if cap(v) != 1 && k != "aws:SecureTransport" {
				t.Fatalf("value of %s has capacity %d", k, cap(v))
			}
			if want := hex.EncodeToString(pcrs[pcrIndexOf(k, keys)]); k != alias0 && k != "aws:SecureTransport" && v[0] != want {
				t.Fatalf("%s = %q, want %q", k, v[0], want)
			}
		}
		if got, want := lowestPCR(pcrs, len(keys)), lowestPCRRanging(pcrs, len(keys)); got != want {
			t.Fatalf("lowestPCR(%v, %d) = %#x, want %#x", keysOf(pcrs), len(keys), got, want)
		}
	}
}

func pcrIndexOf(k string, keys []string) int {
	for i, key := range keys {
		if key == k {
			return i
		}
	}
	return -1
}

func randomPCRs(rng *rand.Rand) map[int][]byte {
	pcrs := map[int][]byte{}
	for range rng.IntN(40) {
		i := rng.IntN(44) - 4 // negative and beyond both tables too
		switch rng.IntN(6) {
		case 0:
			pcrs[i] = nil
		case 1:
			pcrs[i] = make([]byte, 100) // longer than one pass of the encoder's buffer
		default:
			pcrs[i] = pcrValue(i & 0xff)
		}
	}
	return pcrs
}

// TestAddPCRsMatchesRanging: looking the selected indexes up gives the
// context ranging over the map gave, for documents of every shape (empty,
// one PCR, all, indexes outside the tables, empty values), selections of
// every size, with and without the ImageSha384 alias.
func TestAddPCRsMatchesRanging(t *testing.T) {
	docs := append([]map[int][]byte{nil, pcrRange(0, 32), {40: pcrValue(1), -1: pcrValue(2)}, {0: {}}, {5: pcrValue(5)}}, attForDocuments...)
	sels := []uint32{0, 1, 1 << 8, 1<<8 | 1<<3, 1 << 31, 1 << 23, 1 << 24, allPCRs, 0x0000ffff, 0xffff0000}
	for _, pcrs := range docs {
		for _, sel := range sels {
			for _, alias := range []string{"", KeyImageSha384} {
				checkAddPCRs(t, pcrs, sel, alias)
				checkAddPCRs(t, pcrs, sel|lowestPCR(pcrs, len(pcrKeys)), alias)
			}
		}
	}
	rng := rand.New(rand.NewPCG(31, 2026))
	for range 3000 {
		alias := ""
		if rng.IntN(2) == 0 {
			alias = KeyImageSha384
		}
		sel := rng.Uint32()
		if rng.IntN(2) == 0 {
			sel &= rng.Uint32() & rng.Uint32() // few bits, as a request path selects
		}
		checkAddPCRs(t, randomPCRs(rng), sel, alias)
	}
}

// FuzzAddPCRs holds addPCRs and lowestPCR to the ranging versions for
// fuzzed documents and selections.
func FuzzAddPCRs(f *testing.F) {
	f.Add(uint64(0xffff), uint64(3), uint32(1), true)
	f.Add(uint64(1)<<40|1<<20, uint64(0), uint32(1<<20), false)
	f.Fuzz(func(t *testing.T, have, empty uint64, sel uint32, alias bool) {
		pcrs := map[int][]byte{}
		for i := range 64 {
			switch {
			case have&(1<<i) == 0:
			case empty&(1<<i) != 0:
				pcrs[i-8] = []byte{}
			default:
				pcrs[i-8] = pcrValue(i)
			}
		}
		a := ""
		if alias {
			a = KeyImageSha384
		}
		checkAddPCRs(t, pcrs, sel, a)
	})
}
