// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"encoding/binary"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The event engine's system calls on non-blocking sockets, made without
// the runtime's system-call bookkeeping (see rawRead): none of them
// blocks, and each would otherwise mark the worker's P as in a system call,
// which the runtime's monitor may hand to another thread. accept4 here
// also skips x/sys's getsockopt(SO_PROTOCOL) per accepted IPv4 socket.

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func sysAccept4(fd int) (int, unix.Sockaddr, error) {
	var rsa unix.RawSockaddrAny
	l := uint32(unix.SizeofSockaddrAny)
	nfd, _, e := syscall.RawSyscall6(syscall.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&rsa)),
		uintptr(unsafe.Pointer(&l)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, nil, e
	}
	return int(nfd), rawToSockaddr(&rsa, l), nil
}

// rawToSockaddr decodes the address families a listener accepts from.
func rawToSockaddr(rsa *unix.RawSockaddrAny, l uint32) unix.Sockaddr {
	b := (*[unix.SizeofSockaddrAny]byte)(unsafe.Pointer(rsa))[:]
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := &unix.SockaddrInet4{Port: int(binary.BigEndian.Uint16(b[2:4]))}
		copy(sa.Addr[:], b[4:8])
		return sa
	case unix.AF_INET6:
		sa := &unix.SockaddrInet6{Port: int(binary.BigEndian.Uint16(b[2:4])), ZoneId: binary.NativeEndian.Uint32(b[24:28])}
		copy(sa.Addr[:], b[8:24])
		return sa
	case unix.AF_UNIX:
		pp := (*unix.RawSockaddrUnix)(unsafe.Pointer(rsa))
		n := 0
		max := int(l) - 2
		if max > len(pp.Path) {
			max = len(pp.Path)
		}
		for n < max && pp.Path[n] != 0 {
			n++
		}
		name := make([]byte, n)
		for i := range n {
			name[i] = byte(pp.Path[i])
		}
		return &unix.SockaddrUnix{Name: string(name)}
	case unix.AF_VSOCK:
		pp := (*unix.RawSockaddrVM)(unsafe.Pointer(rsa))
		return &unix.SockaddrVM{CID: pp.Cid, Port: pp.Port, Flags: pp.Flags}
	}
	return nil
}

// sockaddrRaw encodes sa for connect(2).
func sockaddrRaw(sa unix.Sockaddr, rsa *unix.RawSockaddrAny) (uint32, bool) {
	b := (*[unix.SizeofSockaddrAny]byte)(unsafe.Pointer(rsa))[:]
	clear(b)
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		binary.NativeEndian.PutUint16(b[0:2], unix.AF_INET)
		binary.BigEndian.PutUint16(b[2:4], uint16(a.Port))
		copy(b[4:8], a.Addr[:])
		return unix.SizeofSockaddrInet4, true
	case *unix.SockaddrInet6:
		binary.NativeEndian.PutUint16(b[0:2], unix.AF_INET6)
		binary.BigEndian.PutUint16(b[2:4], uint16(a.Port))
		copy(b[8:24], a.Addr[:])
		binary.NativeEndian.PutUint32(b[24:28], a.ZoneId)
		return unix.SizeofSockaddrInet6, true
	case *unix.SockaddrUnix:
		if len(a.Name) >= 108 || len(a.Name) == 0 {
			return 0, false
		}
		binary.NativeEndian.PutUint16(b[0:2], unix.AF_UNIX)
		copy(b[2:], a.Name)
		return uint32(2 + len(a.Name) + 1), true
	case *unix.SockaddrVM:
		pp := (*unix.RawSockaddrVM)(unsafe.Pointer(rsa))
		pp.Family, pp.Cid, pp.Port, pp.Flags = unix.AF_VSOCK, a.CID, a.Port, a.Flags
		return unix.SizeofSockaddrVM, true
	}
	return 0, false
}

func sysConnect(fd int, sa unix.Sockaddr) error {
	var rsa unix.RawSockaddrAny
	l, ok := sockaddrRaw(sa, &rsa)
	if !ok {
		return unix.EINVAL
	}
	_, _, e := syscall.RawSyscall(syscall.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(l))
	return errnoErr(e)
}

func sysSocket(family int) (int, error) {
	fd, _, e := syscall.RawSyscall(syscall.SYS_SOCKET, uintptr(family), unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

func sysSetsockoptInt(fd, level, opt, v int) error {
	val := int32(v)
	_, _, e := syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&val)), 4, 0)
	return errnoErr(e)
}

func sysGetsockoptInt(fd, level, opt int) (int, error) {
	var val int32
	l := uint32(4)
	_, _, e := syscall.RawSyscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&val)), uintptr(unsafe.Pointer(&l)), 0)
	return int(val), errnoErr(e)
}

func sysShutdown(fd, how int) error {
	_, _, e := syscall.RawSyscall(syscall.SYS_SHUTDOWN, uintptr(fd), uintptr(how), 0)
	return errnoErr(e)
}

// sysClose closes a socket (a close that sends FIN or RST does not block;
// SO_LINGER is never set here).
func sysClose(fd int) {
	_, _, _ = syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0)
}

func sysEpollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	return errnoErr(e)
}

// sysSplice moves up to n bytes from in to out (one of them a pipe).
func sysSplice(in, out, n int) (int, error) {
	for {
		r, _, e := syscall.RawSyscall6(syscall.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, uintptr(n),
			unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(r), nil
	}
}
