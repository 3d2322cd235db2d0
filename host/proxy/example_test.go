// SPDX-License-Identifier: Apache-2.0

package proxy_test

import (
	"errors"
	"fmt"

	"github.com/enclavekit/enclavekit/host/proxy"
)

// A route to a destination outside the allow-list is refused at start-up,
// with the entry to add.
func ExampleNew() {
	cfg, err := proxy.ParseConfig([]byte(`
allowlist:
  - {address: kms.eu-west-1.amazonaws.com, port: 443}
routes:
  - name: kms
    direction: egress
    listen: vsock://any:8000
    destination: tcp://kms.eu-west-1.amazonaws.com:443
  - name: s3
    direction: egress
    listen: vsock://any:8001
    destination: tcp://s3.eu-west-1.amazonaws.com:443
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = proxy.New(cfg)
	fmt.Println(err)
	fmt.Println(errors.Is(err, proxy.ErrNotAllowed))
	// Output:
	// proxy: line 9: route "s3": destination s3.eu-west-1.amazonaws.com:443 is not in the allow-list; add "- {address: s3.eu-west-1.amazonaws.com, port: 443}" to allowlist
	// true
}
