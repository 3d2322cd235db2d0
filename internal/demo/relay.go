// SPDX-License-Identifier: Apache-2.0

package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/enclavekit/enclavekit/internal/transport"
)

// Connection is what a [RelayTap] logs of one relayed connection: what the
// parent instance, standing where the tap stands, can see of KMS traffic
// over TLS.
type Connection struct {
	// TLS is true when the client's first bytes are a TLS handshake record.
	TLS bool `json:"tls"`
	// BytesUp and BytesDown count the bytes relayed each way.
	BytesUp   int64 `json:"bytesUp"`
	BytesDown int64 `json:"bytesDown"`
	// Readable lists the KMS words seen in the clear in either direction
	// ("TrentService", "Plaintext", "CiphertextForRecipient",
	// "AttestationDocument"); empty over TLS.
	Readable []string `json:"readable"`
}

// kmsWords are what a KMS exchange carries in the clear over plain HTTP.
var kmsWords = []string{"TrentService", "Plaintext", "CiphertextForRecipient", "AttestationDocument"}

// RelayTap relays TCP connections to Target byte for byte, as the parent
// instance relays the enclave's KMS traffic, and writes one JSON line
// ([Connection]) per connection to Log when it closes.
type RelayTap struct {
	Target transport.Addr
	Log    io.Writer

	mu   sync.Mutex
	open atomic.Int64 // accepted, not yet logged
}

// Open returns how many accepted connections the tap has not yet logged:
// those still relaying, and those whose line is being written. A test
// waits for 0 after its client has gone, before it reads Log.
func (t *RelayTap) Open() int64 { return t.open.Load() }

// Serve relays every connection accepted on ln until ctx ends.
func (t *RelayTap) Serve(ctx context.Context, ln net.Listener) error {
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		t.open.Add(1)
		go func() {
			defer t.open.Add(-1)
			t.relay(ctx, c)
		}()
	}
}

func (t *RelayTap) relay(ctx context.Context, c net.Conn) {
	defer c.Close()
	up, err := transport.Dial(ctx, t.Target)
	if err != nil {
		return
	}
	defer up.Close()
	var rec Connection
	var seenUp, seenDown watch
	var wg sync.WaitGroup
	var first atomic.Bool
	copyDir := func(dst, src net.Conn, n *int64, w *watch, fromClient bool) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			k, err := src.Read(buf)
			if k > 0 {
				if fromClient && first.CompareAndSwap(false, true) {
					rec.TLS = buf[0] == 0x16 // handshake record
				}
				w.add(buf[:k])
				*n += int64(k)
				if _, werr := dst.Write(buf[:k]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		// Half-close so the other direction can finish.
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			dst.Close()
		}
	}
	wg.Add(2)
	go copyDir(up, c, &rec.BytesUp, &seenUp, true)
	go copyDir(c, up, &rec.BytesDown, &seenDown, false)
	wg.Wait()
	rec.Readable = append(seenUp.found(), seenDown.found()...)
	b, _ := json.Marshal(rec)
	t.mu.Lock()
	t.Log.Write(append(b, '\n'))
	t.mu.Unlock()
}

// watch looks for kmsWords across read boundaries (keeping the tail of the
// previous read).
type watch struct {
	tail []byte
	hit  map[string]bool
}

func (w *watch) add(p []byte) {
	data := append(w.tail, p...)
	for _, word := range kmsWords {
		if bytes.Contains(data, []byte(word)) {
			if w.hit == nil {
				w.hit = map[string]bool{}
			}
			w.hit[word] = true
		}
	}
	keep := 32
	if len(data) < keep {
		keep = len(data)
	}
	w.tail = append([]byte(nil), data[len(data)-keep:]...)
}

func (w *watch) found() []string {
	var out []string
	for _, word := range kmsWords {
		if w.hit[word] {
			out = append(out, word)
		}
	}
	return out
}
