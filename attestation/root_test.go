// SPDX-License-Identifier: Apache-2.0

package attestation

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/internal/awsvectors"
)

func TestAWSNitroRootG1Fingerprint(t *testing.T) {
	const want = "641A0321A3E244EFE456463195D606317ED7CDCC3C1756E09893F3C68F79BB5B"
	root := AWSNitroRootG1()
	sum := sha256.Sum256(root.Raw)
	if got := strings.ToUpper(hex.EncodeToString(sum[:])); got != want {
		t.Fatalf("embedded root fingerprint %s, want %s", got, want)
	}
	if root.Subject.CommonName != "aws.nitro-enclaves" || !root.IsCA ||
		root.NotAfter.Before(time.Date(2049, 10, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("unexpected root %s, CA %v, not after %s", root.Subject, root.IsCA, root.NotAfter)
	}
	// Each call returns a fresh copy.
	root.Raw[0] ^= 0xff
	if AWSNitroRootG1().Raw[0] == root.Raw[0] {
		t.Error("AWSNitroRootG1 returns shared state")
	}
}

func TestAWSNitroRootG1MatchesSharedPEM(t *testing.T) {
	shared := awsvectors.ReadFile(t, "attestation", "aws_nitro_root_g1.pem")
	if !bytes.Equal(bytes.TrimSpace(shared), bytes.TrimSpace(awsNitroRootG1PEM)) {
		t.Fatal("embedded root differs from the shared vector's")
	}
}
