// SPDX-License-Identifier: Apache-2.0

//go:build unix

package boundedfile

import (
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/enclavekit/enclavekit/internal/boundedfile/boundedfiletest"
)

// TestReadFIFO: a named pipe nobody writes to is refused at once.
func TestReadFIFO(t *testing.T) {
	p := boundedfiletest.FIFO(t, filepath.Join(t.TempDir(), "fifo"))
	var err error
	boundedfiletest.Within(t, 5*time.Second, "Read of a named pipe", func() { _, err = Read(p, MiB) })
	var e *Error
	if !errors.As(err, &e) || e.Kind != "named pipe" || !errors.Is(err, ErrNotRegular) {
		t.Fatalf("Read(fifo): %v", err)
	}
	if want := p + " is a named pipe, not a regular file"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

func TestReadSocket(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sock")
	l, err := net.Listen("unix", p)
	if err != nil {
		t.Skip(err)
	}
	defer l.Close()
	_, err = Read(p, MiB)
	var e *Error
	if !errors.As(err, &e) || e.Kind != "socket" {
		t.Fatalf("Read(socket): %v", err)
	}
}
