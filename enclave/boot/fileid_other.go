// SPDX-License-Identifier: Apache-2.0

//go:build !unix

package boot

import "os"

// FileID returns ErrUnsupported: no fstat device and inode here.
func FileID(*os.File) (string, error) { return "", ErrUnsupported }
