// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFileCredentialsACL: a credentials file of mode 0400 with the ACL
// entry user:UID:r (0440 to stat, as systemd's credentials for a service
// with a User= of its own) is served when UID is host-proxy's, and refused
// naming the entry when it is another user's (found by review: both were
// refused as mode 0440).
func TestFileCredentialsACL(t *testing.T) {
	dir := t.TempDir()
	self := uint32(os.Geteuid())
	for _, tc := range []struct {
		uid uint32
		ok  bool
	}{{self, true}, {self + 4242, false}} {
		p := filepath.Join(dir, "creds-"+strconv.Itoa(int(tc.uid))+".json")
		if err := os.WriteFile(p, []byte(`{"AccessKeyId":"AKIAEXAMPLE","SecretAccessKey":"s3cr3t"}`), 0o400); err != nil {
			t.Fatal(err)
		}
		b := binary.LittleEndian.AppendUint32(nil, 2)
		for _, e := range [][3]uint32{{0x01, 4, 0}, {0x02, 4, tc.uid}, {0x04, 0, 0}, {0x10, 4, 0}, {0x20, 0, 0}} {
			b = binary.LittleEndian.AppendUint16(b, uint16(e[0]))
			b = binary.LittleEndian.AppendUint16(b, uint16(e[1]))
			b = binary.LittleEndian.AppendUint32(b, e[2])
		}
		if err := unix.Setxattr(p, "system.posix_acl_access", b, 0); err != nil {
			if errors.Is(err, unix.EOPNOTSUPP) {
				t.Skipf("no POSIX ACLs in the test's temporary directory (%v)", err)
			}
			t.Fatal(err)
		}
		c, err := fileCredentials(p)
		if tc.ok {
			if err != nil || c.AccessKeyID != "AKIAEXAMPLE" {
				t.Fatalf("ACL user:%d:r (host-proxy's): %v", tc.uid, err)
			}
			continue
		}
		var me *CredentialsFileModeError
		entry := "user:" + strconv.Itoa(int(tc.uid)) + ":r--"
		if !errors.As(err, &me) || me.ACLEntry != entry || me.Mode != 0o440 || !strings.Contains(err.Error(), "the ACL entry "+entry) ||
			!strings.Contains(err.Error(), "setfacl -x user:"+strconv.Itoa(int(tc.uid))+" "+p) {
			t.Fatalf("ACL user:%d:r: %v, want a *CredentialsFileModeError naming the entry", tc.uid, err)
		}
	}
}
