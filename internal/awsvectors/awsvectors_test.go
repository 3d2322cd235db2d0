// SPDX-License-Identifier: Apache-2.0

package awsvectors

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// provenance is the part of a vector's .json file that records checksums.
type provenance struct {
	SavedAs        string          `json:"saved_as"`
	SHA256OfCBOR   string          `json:"sha256_of_cbor"`
	SHA256         json.RawMessage `json:"sha256"`
	RootG1SHA256   string          `json:"root_g1_sha256_fingerprint"`
	Provenance     json.RawMessage `json:"provenance"`
	Description    string          `json:"description"`
	CBORLen        int             `json:"cbor_len"`
	Files          map[string]any  `json:"files"`
	ExpectedParsed json.RawMessage `json:"expected_parse"`
}

func sum(t *testing.T, path string) (string, int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), len(b)
}

// TestChecksums checks every vector against the SHA-256 recorded in its
// provenance .json (and in attestation/index.json), so a copy that was
// altered or truncated is caught, and that every data file is covered by a
// recorded checksum.
func TestChecksums(t *testing.T) {
	root := Path(t)
	checked := map[string]bool{}
	check := func(rel, want string) {
		t.Helper()
		got, _ := sum(t, filepath.Join(root, rel))
		if !strings.EqualFold(got, want) {
			t.Errorf("%s: SHA-256 %s, provenance records %s", rel, got, want)
		}
		checked[filepath.ToSlash(rel)] = true
	}

	jsons, err := filepath.Glob(filepath.Join(root, "*", "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob(filepath.Join(root, "cms", "*.json"))
	jsons = append(jsons, more...)
	for _, j := range jsons {
		rel, _ := filepath.Rel(root, j)
		var p provenance
		b, err := os.ReadFile(j)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		dir := filepath.Dir(rel)
		base := strings.TrimSuffix(filepath.Base(rel), ".json")
		switch {
		case p.SHA256OfCBOR != "":
			// The NitroTPM entries say "real-nitrotpm/" where the copy has
			// "nitrotpm/": only the file name must agree.
			if p.SavedAs != "" && path.Base(p.SavedAs) != base+".cbor" {
				t.Errorf("%s: saved_as %q does not name the file beside it", rel, p.SavedAs)
			}
			check(filepath.Join(dir, base+".cbor"), p.SHA256OfCBOR)
		case len(p.SHA256) > 0:
			var one string
			var many map[string]string
			if json.Unmarshal(p.SHA256, &one) == nil {
				check(filepath.Join(dir, base+".ber"), one)
			} else if err := json.Unmarshal(p.SHA256, &many); err == nil {
				for name, want := range many {
					check(filepath.Join(dir, name), want)
				}
			} else {
				t.Errorf("%s: sha256 is neither a string nor a map: %v", rel, err)
			}
		default:
			t.Errorf("%s: records no SHA-256", rel)
		}
		if len(p.Provenance) == 0 && !strings.Contains(strings.ToLower(p.Description), "synthetic") {
			t.Errorf("%s: no provenance and not marked synthetic", rel)
		}
	}

	// index.json repeats each attestation vector's checksum.
	var index []provenance
	if err := json.Unmarshal(ReadFile(t, "attestation", "index.json"), &index); err != nil {
		t.Fatal(err)
	}
	for _, e := range index {
		name := path.Base(e.SavedAs)
		m, _ := filepath.Glob(filepath.Join(root, "attestation", "*", name))
		if len(m) != 1 {
			t.Errorf("index.json names %s: found %d copies", e.SavedAs, len(m))
			continue
		}
		rel, _ := filepath.Rel(root, m[0])
		check(rel, e.SHA256OfCBOR)
	}
	if len(index) != 27 {
		t.Errorf("attestation/index.json: %d entries, want 27 (19 real, 3 NitroTPM, 5 negative)", len(index))
	}

	// Every .cbor and .ber (the documents and blobs themselves) is covered.
	var data []string
	for _, pat := range []string{"attestation/*/*.cbor", "cms/*.ber"} {
		m, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(pat)))
		data = append(data, m...)
	}
	sort.Strings(data)
	if len(data) != 31 {
		t.Errorf("%d data files, want 31 (27 attestation documents, 4 CMS blobs)", len(data))
	}
	for _, f := range data {
		rel, _ := filepath.Rel(root, f)
		if !checked[filepath.ToSlash(rel)] {
			t.Errorf("%s: no recorded SHA-256 covers it", rel)
		}
	}
}

// TestRootFingerprint checks the AWS Nitro Enclaves root G1 against the
// fingerprint AWS publishes (and the one every attestation .json records).
func TestRootFingerprint(t *testing.T) {
	blk, _ := pem.Decode(ReadFile(t, "attestation", "aws_nitro_root_g1.pem"))
	if blk == nil {
		t.Fatal("aws_nitro_root_g1.pem: no PEM block")
	}
	s := sha256.Sum256(blk.Bytes)
	const want = "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"
	if got := hex.EncodeToString(s[:]); got != want {
		t.Fatalf("root G1 fingerprint %s, want %s", got, want)
	}
}

// TestBase64MatchesBER checks the base64 copy of the edgebit blob against
// its BER bytes.
func TestBase64MatchesBER(t *testing.T) {
	b64 := ReadFile(t, "cms", "kms_genkey_edgebit.b64")
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b64)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dec, ReadFile(t, "cms", "kms_genkey_edgebit.ber")) {
		t.Fatal("kms_genkey_edgebit.b64 does not decode to kms_genkey_edgebit.ber")
	}
}

// fatalTB records a Fatalf and stops the goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = format
	runtime.Goexit()
}

// TestMissingFails checks that a missing vector fails the test instead of
// skipping it.
func TestMissingFails(t *testing.T) {
	if _, err := Find("attestation", "no-such-vector.cbor"); err == nil {
		t.Fatal("Find of a missing vector: want an error")
	}
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ReadFile(f, "attestation", "no-such-vector.cbor")
	}()
	<-done
	if f.msg == "" {
		t.Fatal("ReadFile of a missing vector did not fail the test")
	}
}

// TestFindFromSubdirectory checks the module root is found from a package
// directory deep in the tree.
func TestFindFromSubdirectory(t *testing.T) {
	want := Path(t, "cms")
	t.Chdir(filepath.Join(want, ".."))
	got, err := Find("cms")
	if err != nil || got != want {
		t.Fatalf("Find from %s = %q, %v; want %q", filepath.Join(want, ".."), got, err, want)
	}
}
