// SPDX-License-Identifier: Apache-2.0

package proxy

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
)

// chunkReader returns data in reads of the given sizes, cycling.
type chunkReader struct {
	data  []byte
	sizes []int
	i     int
	bufs  []int // len(p) of every Read
}

func (r *chunkReader) Read(p []byte) (int, error) {
	r.bufs = append(r.bufs, len(p))
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(r.sizes[r.i%len(r.sizes)], len(p), len(r.data))
	r.i++
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

func TestCopyAdaptive(t *testing.T) {
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	// Sparse, then bulk, then sparse again.
	r := &chunkReader{data: data, sizes: []int{100, 200, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 50, 60, 70, 1 << 20}}
	var out bytes.Buffer
	n, err := copyAdaptive(&out, plainSource{r})
	if err != nil || n != int64(len(data)) || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("copied %d, %v; equal=%v", n, err, bytes.Equal(out.Bytes(), data))
	}
	sawLarge, backToSmall := false, false
	for _, b := range r.bufs {
		if b == largeBuf {
			sawLarge = true
		}
		if sawLarge && b == smallBuf {
			backToSmall = true
		}
	}
	if !sawLarge || !backToSmall {
		t.Errorf("buffer sizes used: %v; want small → large → small", r.bufs)
	}
}

type failWriter struct{}

func (failWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

func TestCopyAdaptiveShortWrite(t *testing.T) {
	r := &chunkReader{data: []byte("hello"), sizes: []int{5}}
	if _, err := copyAdaptive(failWriter{}, plainSource{r}); !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("err = %v, want io.ErrShortWrite", err)
	}
}
