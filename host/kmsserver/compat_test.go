// SPDX-License-Identifier: Apache-2.0

package kmsserver

import (
	"context"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

// sdkOperations returns the operations of the aws-sdk-go-v2 KMS client
// this module builds with: its methods of the form
// Op(context.Context, *OpInput, ...func(*Options)) (*OpOutput, error).
func sdkOperations() []string {
	ct := reflect.TypeOf(&awskms.Client{})
	ctxT := reflect.TypeOf((*context.Context)(nil)).Elem()
	var ops []string
	for i := range ct.NumMethod() {
		m := ct.Method(i)
		t := m.Type
		if t.NumIn() != 4 || t.NumOut() != 2 || t.In(1) != ctxT || !t.IsVariadic() {
			continue
		}
		in := t.In(2)
		if in.Kind() != reflect.Pointer || in.Elem().Name() != m.Name+"Input" {
			continue
		}
		ops = append(ops, m.Name)
	}
	slices.Sort(ops)
	return ops
}

// TestCompatibilityTable: docs/kms-compatibility.md has one row per
// operation of the SDK's KMS client, and its state column agrees with the
// route table: "implemented" for every operation of operations(),
// "refused" (with a reason) for every one of knownUnsupported, and its
// count line says how many are implemented.
func TestCompatibilityTable(t *testing.T) {
	b, err := os.ReadFile("../../docs/kms-compatibility.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `([A-Za-z]+)` \\| (implemented|refused) \\| (.*) \\|$")
	table := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if _, dup := table[m[1]]; dup {
			t.Errorf("docs/kms-compatibility.md lists %s twice", m[1])
		}
		table[m[1]] = m[2]
		if strings.TrimSpace(m[3]) == "" {
			t.Errorf("docs/kms-compatibility.md: %s has no note (what is covered, or why it is refused)", m[1])
		}
	}
	ops := sdkOperations()
	if len(ops) < 50 {
		t.Fatalf("found only %d SDK operations by reflection: %v", len(ops), ops)
	}
	routes := (&Server{}).operations()
	implemented := 0
	for _, op := range ops {
		state, ok := table[op]
		_, routed := routes[op]
		switch {
		case !ok:
			t.Errorf("docs/kms-compatibility.md has no row for the SDK operation %s", op)
		case routed && state != "implemented":
			t.Errorf("docs/kms-compatibility.md says %s is %s, but routes.go implements it: update its row", op, state)
		case !routed && state != "refused":
			t.Errorf("docs/kms-compatibility.md says %s is %s, but routes.go does not implement it: update its row", op, state)
		case !routed && !knownUnsupported[op]:
			t.Errorf("%s is neither routed nor in knownUnsupported (routes.go)", op)
		}
		if routed {
			implemented++
		}
	}
	for op := range table {
		if !slices.Contains(ops, op) {
			t.Errorf("docs/kms-compatibility.md lists %s, which the SDK does not have", op)
		}
	}
	for op := range routes {
		if !slices.Contains(ops, op) {
			t.Errorf("routes.go routes %s, which the SDK does not have", op)
		}
	}
	count := regexp.MustCompile(`\*\*(\d+) of (\d+)\*\* operations are implemented`).FindStringSubmatch(string(b))
	if count == nil || count[1] != strconv.Itoa(implemented) || count[2] != strconv.Itoa(len(ops)) {
		t.Errorf("docs/kms-compatibility.md count line %v; want **%d of %d** operations are implemented", count, implemented, len(ops))
	}
	t.Logf("%d of %d SDK operations implemented", implemented, len(ops))
}
