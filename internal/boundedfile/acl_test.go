// SPDX-License-Identifier: Apache-2.0

package boundedfile

import (
	"encoding/binary"
	"testing"
)

// FuzzParseACL: parseACL takes any bytes without panicking, refuses what
// is not version 2 with whole 8-byte entries, and aclGrant then decides
// every parsed ACL, an entry of unknown tag counting as a grant.
func FuzzParseACL(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0, 1, 0, 4, 0, 0, 0, 0, 0, 2, 0, 4, 0, 0xe8, 3, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 4, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{2, 0, 0, 0, 0x40, 0, 7, 0, 1, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := parseACL(b)
		valid := len(b) >= 4 && binary.LittleEndian.Uint32(b) == aclVersion && (len(b)-4)%8 == 0
		if (err == nil) != valid || (err == nil && len(es) != (len(b)-4)/8) {
			t.Fatalf("parseACL(%x): %d entries, %v", b, len(es), err)
		}
		for _, e := range es {
			known := map[uint16]bool{aclUserObj: true, aclUser: true, aclGroupObj: true, aclGroup: true, aclMask: true, aclOther: true}[e.tag]
			if _, grants := aclGrant([]aclEntry{e}, 1000); !known && !grants {
				t.Fatalf("entry %v of unknown tag not counted as a grant", e)
			}
		}
	})
}
