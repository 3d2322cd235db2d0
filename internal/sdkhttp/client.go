// SPDX-License-Identifier: Apache-2.0

package sdkhttp

import (
	"io"
	"net/http"
)

// Doer sends one HTTP request, as *http.Client does; it is what
// aws.Config.HTTPClient holds.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client is a [Doer] for aws.Config.HTTPClient that passes each request to
// Doer with its body reduced to Read and Close (see the package comment).
type Client struct {
	// Doer sends the requests; nil means http.DefaultClient.
	Doer Doer
}

// New returns a Client sending through d (nil: http.DefaultClient).
func New(d Doer) Client {
	return Client{Doer: d}
}

// Do sends r through c.Doer after wrapping its body (and GetBody's
// results) in a reader that has only Read and Close. r is the SDK's own
// request for this attempt, so its body is replaced in place: the SDK then
// closes the wrapper, which closes its body.
func (c Client) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = readCloser{r.Body}
	}
	if get := r.GetBody; get != nil {
		r.GetBody = func() (io.ReadCloser, error) {
			b, err := get()
			if err != nil || b == nil || b == http.NoBody {
				return b, err
			}
			return readCloser{b}, nil
		}
	}
	d := c.Doer
	if d == nil {
		d = http.DefaultClient
	}
	return d.Do(r)
}

// readCloser hides every method of its body but Read and Close.
type readCloser struct {
	body io.ReadCloser
}

func (b readCloser) Read(p []byte) (int, error) { return b.body.Read(p) }

func (b readCloser) Close() error { return b.body.Close() }
