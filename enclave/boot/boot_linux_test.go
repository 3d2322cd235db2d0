// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"errors"
	"net"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestKernelPoolIoctl sends a real RNDADDENTROPY to this machine's kernel,
// crediting 0 bits (as harmless as writing to /dev/urandom), to show the
// request number and struct layout are the kernel's.
func TestKernelPoolIoctl(t *testing.T) {
	err := KernelPool().AddEntropy([]byte("enclavekit boot test: no entropy credited"), 0)
	if errors.Is(err, unix.EPERM) || errors.Is(err, os.ErrPermission) {
		t.Skipf("RNDADDENTROPY needs CAP_SYS_ADMIN, which this test process lacks: %v", err)
	}
	if err != nil {
		t.Fatalf("RNDADDENTROPY: %v", err)
	}
	// A negative credit is refused by the kernel (EINVAL): the first field
	// is where it reads entropy_count.
	if err := KernelPool().AddEntropy([]byte("x"), -8); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("RNDADDENTROPY with entropy_count -8: %v, want EINVAL", err)
	}
}

// TestLoopbackUp brings lo up in a fresh network namespace (where it starts
// down) and listens on 127.0.0.1 there.
func TestLoopbackUp(t *testing.T) {
	if err := LoopbackUp(); err != nil {
		t.Fatalf("LoopbackUp with lo already up: %v", err)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with its namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- &skipError{err}
			return
		}
		if up, err := interfaceIsUp("lo"); err != nil || up {
			errc <- errors.New("lo is up (or unreadable) in a fresh namespace")
			return
		}
		if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
			c, err := net.Dial("tcp", l.Addr().String())
			l.Close()
			if err == nil {
				c.Close()
				errc <- errors.New("a connection over 127.0.0.1 worked with lo down")
				return
			}
		}
		if err := LoopbackUp(); err != nil {
			errc <- err
			return
		}
		if up, err := interfaceIsUp("lo"); err != nil || !up {
			errc <- errors.New("lo is not up after LoopbackUp")
			return
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			errc <- err
			return
		}
		defer l.Close()
		c, err := net.Dial("tcp", l.Addr().String())
		if err == nil {
			c.Close()
		}
		errc <- err
	}()
	err := <-errc
	var se *skipError
	if errors.As(err, &se) {
		t.Skipf("cannot make a network namespace to test in (needs CAP_SYS_ADMIN): %v", se.err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

type skipError struct{ err error }

func (e *skipError) Error() string { return e.err.Error() }
