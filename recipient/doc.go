// SPDX-License-Identifier: Apache-2.0

// Package recipient implements the CMS EnvelopedData that AWS KMS returns as
// CiphertextForRecipient, on both sides.
package recipient
