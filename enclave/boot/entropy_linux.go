// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rndAddEntropy is RNDADDENTROPY, _IOW('R', 0x03, int[2]).
const rndAddEntropy = 0x40085203

// KernelPool is the kernel's random pool through /dev/random (adding and
// crediting entropy needs CAP_SYS_ADMIN, which init has).
func KernelPool() EntropyPool { return kernelPool{path: "/dev/random"} }

type kernelPool struct{ path string }

func (k kernelPool) AddEntropy(data []byte, bits int) error {
	f, err := os.OpenFile(k.path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	info := randPoolInfo(data, bits)
	defer clear(info)
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var errno unix.Errno
	if err := sc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, rndAddEntropy, uintptr(unsafe.Pointer(&info[0])))
	}); err != nil {
		return err
	}
	if errno != 0 {
		return fmt.Errorf("RNDADDENTROPY on %s: %w", k.path, errno)
	}
	return nil
}
