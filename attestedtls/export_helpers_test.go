// SPDX-License-Identifier: Apache-2.0

package attestedtls_test

import (
	"bufio"
	"io"
)

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }
