// SPDX-License-Identifier: Apache-2.0

package agent

import (
	"errors"
	"strings"
)

// ErrKeyAccount is wrapped by every [KeyAccountError].
var ErrKeyAccount = errors.New("agent: KMS response names a key outside the configured account")

// KeyAccountError is returned when Config.KMSAccount is set and a KMS
// response's KeyId is not a key ARN in that account, or, when the request
// named a key by its full key ARN, is not that ARN. The parent instance
// supplies the credentials, and an alias or bare key ID resolves in the
// credentials' account: without the check it could hand in credentials for
// its own account, where alias/app names a key it can use, and read what
// the enclave encrypts. The response is refused (fail closed): no
// plaintext from it is used.
type KeyAccountError struct {
	// Op is the KMS operation.
	Op string
	// Account is the configured account (Config.KMSAccount).
	Account string
	// Requested is the KeyId the request named ("" if none).
	Requested string
	// Got is the response's KeyId ("" if absent).
	Got string
}

func (e *KeyAccountError) Error() string {
	if isKeyARN(e.Requested) {
		return "agent: " + e.Op + ": the KMS response's KeyId " + quote(e.Got) + " is not the key ARN requested, " + e.Requested + ": refused"
	}
	return "agent: " + e.Op + ": the KMS response's KeyId " + quote(e.Got) + " is not a key ARN in account " + e.Account + " (--kms-account): refused"
}

// Unwrap returns [ErrKeyAccount].
func (e *KeyAccountError) Unwrap() error { return ErrKeyAccount }

func quote(s string) string { return `"` + s + `"` }

// validAccount reports whether s is an AWS account ID (12 digits).
func validAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// keyARNAccount returns the account of a KMS key ARN
// (arn:PARTITION:kms:REGION:ACCOUNT:key/ID), or false.
func keyARNAccount(s string) (string, bool) {
	p := strings.SplitN(s, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[1] == "" || p[2] != "kms" || p[3] == "" || !validAccount(p[4]) {
		return "", false
	}
	id, ok := strings.CutPrefix(p[5], "key/")
	if !ok || id == "" || strings.ContainsAny(id, "/:") {
		return "", false
	}
	return p[4], true
}

func isKeyARN(s string) bool { _, ok := keyARNAccount(s); return ok }

// checkKeyAccount checks a response's KeyId against account (see
// [KeyAccountError]); an empty account checks nothing.
func checkKeyAccount(account, op, requested, got string) error {
	if account == "" {
		return nil
	}
	acct, ok := keyARNAccount(got)
	if !ok || acct != account || (isKeyARN(requested) && got != requested) {
		return &KeyAccountError{Op: op, Account: account, Requested: requested, Got: got}
	}
	return nil
}
