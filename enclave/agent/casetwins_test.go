// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"encoding/json"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCaseTwinsLinear: finding members that differ only in case costs in
// proportion to their number. Comparing every pair cost a request of
// 64 KiB (8,191 short distinct members, the endpoint's default bound) a
// quarter of a second of CPU before the endpoint did anything, so any
// process in the enclave could keep the agent's CPUs busy with a few
// requests in flight; with MaxRequestBytes raised to 1 MiB a request took
// a minute. 150,000 members (about 1 MiB of them) must take well under 10 s
// (they take milliseconds; every pair, about a minute).
func TestCaseTwinsLinear(t *testing.T) {
	m := make(map[string]json.RawMessage, 150000)
	for i := range 150000 {
		m["m"+strconv.Itoa(i)] = json.RawMessage("0")
	}
	done := make(chan bool, 1)
	go func() { _, _, ok := caseTwins(m); done <- ok }()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("caseTwins found twins among distinct lower-case names")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("caseTwins over 150,000 members took more than 10 s: it compares every pair")
	}
	m["M77777"] = json.RawMessage("0")
	if a, b, ok := caseTwins(m); !ok || a != "M77777" || b != "m77777" {
		t.Fatalf("caseTwins = %q, %q, %v; want \"M77777\", \"m77777\", true", a, b, ok)
	}
}

// TestCaseTwinsMatchesEqualFold: caseTwins finds twins exactly where
// strings.EqualFold does (Unicode simple folding: "K" and the Kelvin sign
// U+212A, "s" and the long s U+017F, "ǅ" and "ǆ"), and names the first
// pair in name order, as comparing every pair did.
func TestCaseTwinsMatchesEqualFold(t *testing.T) {
	slow := func(m map[string]json.RawMessage) (string, string, bool) {
		names := slices.Sorted(maps.Keys(m))
		for i, a := range names {
			for _, b := range names[i+1:] {
				if strings.EqualFold(a, b) {
					return a, b, true
				}
			}
		}
		return "", "", false
	}
	alphabet := []string{"k", "K", "\u212a", "s", "S", "\u017f", "ǅ", "ǆ", "Ǆ", "σ", "ς", "Σ", "a", "é", "É", "\ufffd", "\xff", "\xfe", "ß", "ẞ", "0"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		m := map[string]json.RawMessage{}
		for range 1 + r.IntN(4) {
			var b strings.Builder
			for range 1 + r.IntN(3) {
				b.WriteString(alphabet[r.IntN(len(alphabet))])
			}
			m[b.String()] = nil
		}
		a, b, ok := caseTwins(m)
		wa, wb, wok := slow(m)
		if a != wa || b != wb || ok != wok {
			t.Fatalf("caseTwins(%q) = %q, %q, %v; comparing every pair: %q, %q, %v", slices.Sorted(maps.Keys(m)), a, b, ok, wa, wb, wok)
		}
	}
}
