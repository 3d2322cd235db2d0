// SPDX-License-Identifier: Apache-2.0

package policy

import "errors"

// Sentinel errors returned (wrapped in a [*ParseError]) by [Parse]. Match them
// with errors.Is.
var (
	// ErrMalformed reports a document that is not a well-formed key policy:
	// invalid JSON, a duplicate member, a missing or mistyped element, an
	// invalid principal or value.
	ErrMalformed = errors.New("policy: malformed policy document")

	// ErrUnsupported reports grammar that AWS accepts but this engine does
	// not implement (NotPrincipal, NotResource, an unknown condition operator
	// or condition key, policy variables). Such policies are rejected rather
	// than evaluated with the unsupported part ignored, because ignoring a
	// condition or a negation would grant more access than the author wrote.
	ErrUnsupported = errors.New("policy: unsupported policy grammar")

	// ErrTooLarge reports a document over [MaxPolicySize] bytes or a policy
	// over one of the other limits ([MaxStatements], [MaxDepth]).
	ErrTooLarge = errors.New("policy: policy document too large")
)

// ParseError describes why [Parse] rejected a document. Err is one of
// [ErrMalformed], [ErrUnsupported] or [ErrTooLarge], so errors.Is works on a
// *ParseError.
type ParseError struct {
	// Path locates the offending element, e.g. `Statement[1].Condition`;
	// empty for document-level problems.
	Path string
	// Msg says what is wrong, naming the element.
	Msg string
	// Err is the class of the problem.
	Err error
}

// Error returns "policy: <path>: <message>".
func (e *ParseError) Error() string {
	if e.Path == "" {
		return "policy: " + e.Msg
	}
	return "policy: " + e.Path + ": " + e.Msg
}

// Unwrap returns the class sentinel.
func (e *ParseError) Unwrap() error { return e.Err }
