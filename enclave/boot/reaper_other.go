// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package boot

import (
	"log/slog"
	"sync"
)

type reaper struct {
	mu      sync.Mutex
	managed int
}

func startReaper(*slog.Logger) (*reaper, error) { return nil, ErrUnsupported }

func (r *reaper) stop() {}
