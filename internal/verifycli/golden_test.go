// SPDX-License-Identifier: Apache-2.0

package verifycli

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enclavekit/enclavekit/internal/awsvectors"
	"github.com/enclavekit/enclavekit/testvectors"
)

var update = flag.Bool("update", false, "rewrite the golden --json reports in testdata/golden")

// golden compares got with testdata/golden/NAME, or rewrites it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGoldenReports -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the --json report differs from %s (a format change? then bump MediaType's version and run -update):\n%s", path, got)
	}
}

// checkReport checks what every report holds, whatever the verdict.
func checkReport(t *testing.T, code int, out string) {
	t.Helper()
	var rep Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if rep.MediaType != MediaType || !strings.Contains(rep.MediaType, ";version=") {
		t.Errorf("mediaType %q", rep.MediaType)
	}
	if rep.Verified != (code == ExitVerified) || rep.Verified != (rep.Error == nil) {
		t.Errorf("exit %d, verified %v, error %+v", code, rep.Verified, rep.Error)
	}
}

// TestGoldenReports pins the --json report, a format outside tools parse,
// for every vector in testvectors: the generated ones under their
// manifest's policy, the real AWS, NitroTPM and negative documents at their
// own time, and an unreadable input.
func TestGoldenReports(t *testing.T) {
	dir := writeVectors(t)
	m, _, err := testvectors.Load(testvectors.FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range m.Vectors {
		name := strings.TrimSuffix(v.File, ".cbor")
		t.Run("generated/"+name, func(t *testing.T) {
			code, out, _ := run(t, "", vectorArgs(dir, &v)...)
			checkReport(t, code, out)
			// The --root file's name appears in hints; it is a temporary
			// directory.
			out = strings.ReplaceAll(out, dir+string(filepath.Separator), "$VECTORS/")
			golden(t, filepath.Join("generated", name+".json"), []byte(out))
		})
	}
	for _, sub := range []string{"real", "negative", "nitrotpm"} {
		files, err := filepath.Glob(filepath.Join(awsvectors.Path(t, "attestation", sub), "*.cbor"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no vectors in testvectors/aws/attestation/%s: %v", sub, err)
		}
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".cbor")
			t.Run("aws/"+sub+"/"+name, func(t *testing.T) {
				code, out, _ := run(t, "", "--json", "--at", "document", f)
				checkReport(t, code, out)
				golden(t, filepath.Join("aws", sub, name+".json"), []byte(out))
			})
		}
	}
	t.Run("io_error", func(t *testing.T) {
		code, out, _ := run(t, "", "--json", filepath.Join("testdata", "no-such-document.cbor"))
		if code != ExitUsage {
			t.Errorf("exit %d, want %d", code, ExitUsage)
		}
		golden(t, "io_error.json", []byte(out))
	})
	// An unreadable --pcrs file: the same report (the policy as far as it
	// was read: the roots, and no expected PCRs).
	t.Run("io_error_pcrs", func(t *testing.T) {
		code, out, _ := run(t, "", "--json", "--pcrs", filepath.Join("testdata", "no-such-pcrs.json"), filepath.Join("testdata", "no-such-document.cbor"))
		if code != ExitUsage {
			t.Errorf("exit %d, want %d", code, ExitUsage)
		}
		golden(t, "io_error_pcrs.json", []byte(out))
	})
}
