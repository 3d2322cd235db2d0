// SPDX-License-Identifier: Apache-2.0

package eif

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary measure an image as a child process
// (EIF_MEASURE_CHILD=path), so that the benchmark can compare its wall
// time, CPU time and peak RSS with sha384sum's on equal terms.
func TestMain(m *testing.M) {
	if p := os.Getenv("EIF_MEASURE_CHILD"); p != "" {
		f, err := os.Open(p)
		if err == nil {
			var img *Image
			if img, err = Read(f); err == nil {
				fmt.Printf("%x\n", img.Measurements.PCR0)
				os.Exit(0)
			}
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// writeBigImage writes an EIF with a kernel, a cmdline and ramdisks of
// the given sizes straight to path (filling the CRC in last), without
// holding it in memory.
func writeBigImage(tb testing.TB, path string, kernel int64, ramdisks ...int64) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	cmdline := []byte(benchCmdline)
	secs := []struct {
		typ  SectionType
		size int64
	}{{SectionKernel, kernel}, {SectionCmdline, int64(len(cmdline))}}
	for _, r := range ramdisks {
		secs = append(secs, struct {
			typ  SectionType
			size int64
		}{SectionRamdisk, r})
	}
	h := rawHeader{magic: Magic, version: CurrentVersion, defaultMem: DefaultMemory, defaultCPUs: DefaultCPUs, numSections: uint16(len(secs))}
	off := int64(HeaderSize)
	for i, s := range secs {
		h.offsets[i], h.sizes[i] = uint64(off), uint64(s.size)
		off += SectionHeaderSize + s.size
	}
	hdr := h.encode()
	crc := crc32.Update(0, crc32.IEEETable, hdr[:crcOffset])
	w := io.MultiWriter(f, writerFunc(func(p []byte) { crc = crc32.Update(crc, crc32.IEEETable, p) }))
	if _, err := f.Write(hdr); err != nil {
		tb.Fatal(err)
	}
	block := make([]byte, 1<<20)
	rng := rand.NewChaCha8([32]byte{1})
	for _, s := range secs {
		w.Write(encodeSectionHeader(s.typ, uint64(s.size)))
		if s.typ == SectionCmdline {
			w.Write(cmdline)
			continue
		}
		for left := s.size; left > 0; left -= int64(len(block)) {
			rng.Read(block)
			if _, err := w.Write(block[:min(left, int64(len(block)))]); err != nil {
				tb.Fatal(err)
			}
		}
	}
	binary.BigEndian.PutUint32(hdr[crcOffset:], crc)
	if _, err := f.WriteAt(hdr, 0); err != nil {
		tb.Fatal(err)
	}
}

const benchCmdline = "reboot=k panic=30 pci=off nomodules console=ttyS0"

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

// childRun runs name with args under GNU time and returns its wall time,
// CPU time (user+system) and peak RSS in KiB (time's %M: the child's own
// ru_maxrss; the Go parent's rusage of a child it starts carries the
// parent's RSS, since Linux keeps the high-water mark across exec).
func childRun(tb testing.TB, env []string, name string, args ...string) (wall, cpu time.Duration, rssKiB int64) {
	tb.Helper()
	cmd := exec.Command(gnuTime, append([]string{"-f", "%M", name}, args...)...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%v: %v\n%s", cmd.Args, err, stderr.String())
	}
	wall = time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	rssKiB, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil {
		tb.Fatalf("time -f %%M: %q", stderr.String())
	}
	return wall, cpu, rssKiB
}

const gnuTime = "/usr/bin/time"

// BenchmarkMeasure1GiB measures a 1 GiB image with Read (in a child
// process) and hashes the same file with sha384sum, alternating, and
// reports both and their ratios. Two shapes: nitro-cli's (8 MiB kernel,
// 4 MiB bootstrap ramdisk, the rest one application ramdisk, so PCR2
// hashes ~99% of the bytes a second time) and one ramdisk (PCR2 empty).
func BenchmarkMeasure1GiB(b *testing.B) {
	sha, err := exec.LookPath("sha384sum")
	if err != nil {
		b.Skip("sha384sum not installed: no floor to compare with")
	}
	if _, err := os.Stat(gnuTime); err != nil {
		b.Skip("GNU time (/usr/bin/time) not installed: no peak RSS measure")
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	const gib = 1 << 30
	shapes := []struct {
		name     string
		kernel   int64
		ramdisks []int64
	}{
		{"nitro-cli-shape", 8 << 20, []int64{4 << 20, gib - 12<<20 - 4*SectionHeaderSize - HeaderSize - int64(len(benchCmdline))}},
		{"one-ramdisk", 8 << 20, []int64{gib - 8<<20 - 3*SectionHeaderSize - HeaderSize - int64(len(benchCmdline))}},
	}
	for _, sh := range shapes {
		b.Run(sh.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "image.eif")
			writeBigImage(b, path, sh.kernel, sh.ramdisks...)
			if fi, _ := os.Stat(path); fi.Size() != gib {
				b.Fatalf("image is %d bytes", fi.Size())
			}
			childRun(b, nil, sha, path) // warm the page cache
			var eWall, eCPU, sWall, sCPU time.Duration
			var eRSS, sRSS int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				run := func(eif bool) {
					if eif {
						w, c, r := childRun(b, append(os.Environ(), "EIF_MEASURE_CHILD="+path), exe)
						eWall, eCPU, eRSS = eWall+w, eCPU+c, max(eRSS, r)
					} else {
						w, c, r := childRun(b, nil, sha, path)
						sWall, sCPU, sRSS = sWall+w, sCPU+c, max(sRSS, r)
					}
				}
				run(i%2 == 0)
				run(i%2 != 0)
			}
			n := float64(b.N)
			b.ReportMetric(eWall.Seconds()/n, "eif-wall-s")
			b.ReportMetric(sWall.Seconds()/n, "sha384sum-wall-s")
			b.ReportMetric(eWall.Seconds()/sWall.Seconds(), "wall-ratio")
			b.ReportMetric(eCPU.Seconds()/n, "eif-cpu-s")
			b.ReportMetric(sCPU.Seconds()/n, "sha384sum-cpu-s")
			b.ReportMetric(eCPU.Seconds()/sCPU.Seconds(), "cpu-ratio")
			b.ReportMetric(float64(eRSS), "eif-maxrss-KiB")
			b.ReportMetric(float64(sRSS), "sha384sum-maxrss-KiB")
		})
	}
}

// BenchmarkRead measures Read in process: a 64 MiB image in memory, and
// 64 MiB and 512 MiB images streamed from files. Allocations per image
// stay the same whatever its size (two 256 KiB buffers and the small
// sections).
func BenchmarkRead(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "64MiB.eif")
	writeBigImage(b, path, 4<<20, 4<<20, 56<<20)
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("memory-64MiB", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Read(bytes.NewReader(raw)); err != nil {
				b.Fatal(err)
			}
		}
	})
	big := filepath.Join(dir, "512MiB.eif")
	writeBigImage(b, big, 8<<20, 4<<20, 500<<20)
	for _, p := range []string{path, big} {
		b.Run("file-"+filepath.Base(p), func(b *testing.B) {
			fi, _ := os.Stat(p)
			b.SetBytes(fi.Size())
			b.ReportAllocs()
			for b.Loop() {
				f, err := os.Open(p)
				if err != nil {
					b.Fatal(err)
				}
				_, err = Read(f)
				f.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
