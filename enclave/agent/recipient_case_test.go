// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"strings"
	"testing"
)

// TestLocalKMSEndpointRecipientAnyCase: a request member named Recipient in
// another case ("recipient": null) never reaches the key service beside the
// endpoint's own Recipient. kms-server matches member names regardless of
// case and the last wins, and the endpoint writes members in name order, so
// "recipient" came after "Recipient": the key service took the request as
// one without Recipient (and, where the key policy allows it, would have
// answered the data key in the clear across the parent before the endpoint
// refused the answer).
func TestLocalKMSEndpointRecipientAnyCase(t *testing.T) {
	l := startLocalKMS(t)
	for _, body := range []string{
		`{"KeyId":"` + l.keyID + `","KeySpec":"AES_256","recipient":null}`,
		`{"KeyId":"` + l.keyID + `","KeySpec":"AES_256","reCipient":{"AttestationDocument":null}}`,
	} {
		status, code, b := post(t, l.endpoint, "POST", "TrentService.GenerateDataKey", strings.NewReader(body))
		if status != 200 {
			t.Errorf("%s: %d %s %s", body, status, code, b)
		}
	}
	// Members that differ only in case are refused: which one the key
	// service takes is its choice, not the endpoint's.
	for _, body := range []string{
		`{"KeyId":"` + l.keyID + `","KeySpec":"AES_256","RECIPIENT":null,"reCipient":null}`,
		`{"KeyId":"` + l.keyID + `","keyid":"alias/other","KeySpec":"AES_256"}`,
		// U+212A, the Kelvin sign, folds to "k" (strings.EqualFold).
		`{"KeyId":"` + l.keyID + `","KeySpec":"AES_256","\u212aeySpec":"AES_128"}`,
	} {
		status, code, b := post(t, l.endpoint, "POST", "TrentService.GenerateDataKey", strings.NewReader(body))
		if status != 400 || code != "SerializationException" {
			t.Errorf("%s: %d %s %s, want 400 SerializationException", body, status, code, b)
		}
	}
	l.parent.checkNoPlaintext(t)
}
