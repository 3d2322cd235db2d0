// SPDX-License-Identifier: Apache-2.0

package boot

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// LoopbackUp brings up the loopback interface lo (the kernel gives it
// 127.0.0.1/8 and ::1 when it comes up). It does nothing when lo is already
// up; it needs CAP_NET_ADMIN otherwise.
func LoopbackUp() error { return interfaceUp("lo") }

func interfaceUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("boot: bringing up %s: %w", name, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return fmt.Errorf("boot: bringing up %s: %w", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("boot: bringing up %s: SIOCGIFFLAGS: %w", name, err)
	}
	flags := ifr.Uint16()
	if flags&unix.IFF_UP != 0 {
		return nil
	}
	ifr.SetUint16(flags | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("boot: bringing up %s: SIOCSIFFLAGS: %w", name, err)
	}
	return nil
}

// interfaceIsUp reports whether the named interface is up.
func interfaceIsUp(name string) (bool, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return false, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return false, err
	}
	return ifr.Uint16()&unix.IFF_UP != 0, nil
}
