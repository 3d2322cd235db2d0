// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package proxy

import (
	"errors"
	"net"

	"github.com/enclavekit/enclavekit/internal/transport"
)

// engineSupported: the event engine is Linux's; elsewhere every route runs
// on the goroutine path.
const engineSupported = false

type engine struct{}

type eroute struct{}

var errNoEngine = errors.New("proxy: no event engine on this system")

func listenEngine(transport.Addr) (net.Listener, error)          { return nil, errNoEngine }
func newEngine(*Proxy, map[string]net.Listener) (*engine, error) { return nil, errNoEngine }
func (*engine) stopAccepting()                                   {}
func (*engine) forceClose() int                                  { return 0 }
func (*engine) active() int                                      { return 0 }
func (*engine) stop()                                            {}
