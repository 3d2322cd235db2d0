// SPDX-License-Identifier: Apache-2.0

package transport_test

import (
	"fmt"

	"github.com/enclavekit/enclavekit/internal/transport"
)

func ExampleParseAddr() {
	for _, s := range []string{"vsock://3:8000", "tcp://127.0.0.1:8000", "unix:///run/agent.sock", "tcp://:8000"} {
		a, err := transport.ParseAddr(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(a.Network, a)
	}
	// Output:
	// vsock vsock://3:8000
	// tcp tcp://127.0.0.1:8000
	// unix unix:///run/agent.sock
	// transport: bad address "tcp://:8000": empty host: use 0.0.0.0 or [::] to listen on every interface
}
