// SPDX-License-Identifier: Apache-2.0

package kmsserver

// Paging of the list operations added with the key lifecycle
// (ListResourceTags, ListKeyPolicies, ListKeyRotations, ListGrants,
// ListRetirableGrants): Limit and Marker as AWS has them. A marker is
// opaque to the client: the base64url of the sort key of the last entry
// returned, so that a page continues after it even if that entry has gone
// meanwhile. A marker that is not one of ours is an
// InvalidMarkerException, as in AWS.

import (
	"encoding/base64"
	"sort"
)

// maxMarkerLen is AWS's bound on Marker (1 to 1024 characters).
const maxMarkerLen = 1024

// markerPrefix makes markers recognisable, so a marker of ListKeys (a key
// ID) is refused here rather than read as a position.
const markerPrefix = "ek1."

// limitIn checks a Limit against [1, max] and returns def when it is absent.
func limitIn(l *int, def, max int) (int, error) {
	if l == nil {
		return def, nil
	}
	if *l < 1 || *l > max {
		return 0, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d", *l, max)
	}
	return *l, nil
}

// pageAfter returns the range [from, to) of the sorted keys to answer for
// marker and limit, and the marker of the next page ("" on the last).
func pageAfter(keys []string, marker string, limit int) (from, to int, next string, err error) {
	if marker != "" {
		after, err := decodeMarker(marker)
		if err != nil {
			return 0, 0, "", err
		}
		from = sort.Search(len(keys), func(i int) bool { return keys[i] > after })
	}
	to = min(from+limit, len(keys))
	if to < len(keys) {
		next = encodeMarker(keys[to-1])
	}
	return from, to, next, nil
}

func encodeMarker(key string) string {
	return markerPrefix + base64.RawURLEncoding.EncodeToString([]byte(key))
}

func decodeMarker(m string) (string, error) {
	if len(m) > maxMarkerLen {
		return "", validation("1 validation error detected: Value at 'marker' failed to satisfy constraint: Member must have length less than or equal to %d", maxMarkerLen)
	}
	if len(m) < len(markerPrefix) || m[:len(markerPrefix)] != markerPrefix {
		return "", apiErr(CodeInvalidMarker, "Invalid marker %q", m)
	}
	b, err := base64.RawURLEncoding.DecodeString(m[len(markerPrefix):])
	if err != nil || len(b) == 0 {
		return "", apiErr(CodeInvalidMarker, "Invalid marker %q", m)
	}
	return string(b), nil
}
