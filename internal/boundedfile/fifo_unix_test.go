// SPDX-License-Identifier: Apache-2.0

//go:build unix

package boundedfile

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestReadFIFO: a named pipe nobody writes to is refused at once.
func TestReadFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := Read(p, MiB); done <- err }()
	select {
	case err := <-done:
		var e *Error
		if !errors.As(err, &e) || e.Kind != "named pipe" || !errors.Is(err, ErrNotRegular) {
			t.Fatalf("Read(fifo): %v", err)
		}
		if want := p + " is a named pipe, not a regular file"; err.Error() != want {
			t.Errorf("message %q, want %q", err, want)
		}
	case <-time.After(5 * time.Second):
		if w, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		<-done
		t.Fatal("Read blocked on a named pipe")
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
