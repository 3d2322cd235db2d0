// SPDX-License-Identifier: Apache-2.0

package policy

import (
	"errors"
	"reflect"
	"testing"
)

// The ABAC examples of the AWS KMS Developer Guide ("ABAC for AWS KMS",
// "Controlling access to tags") in testdata/tags_abac.json: a key policy
// that allows kms:Decrypt only while the key is tagged Project=Alpha,
// tagging only with listed tag keys, and no retagging to another project.
func TestAWSDocTagConditions(t *testing.T) {
	p := mustParseFile(t, "tags_abac.json")
	const app = "arn:aws:iam::111122223333:role/alpha-app"
	res := func(tags map[string]string) map[string][]string { return AddResourceTags(nil, tags) }
	req := func(tags map[string]string) map[string][]string { return AddRequestTags(nil, tags) }
	runDocCases(t, p, []docCase{
		{"decrypt, Project=Alpha", app, "kms:Decrypt", res(map[string]string{"Project": "Alpha", "Other": "x"}), true, false},
		{"decrypt, Project=Beta", app, "kms:Decrypt", res(map[string]string{"Project": "Beta"}), false, false},
		{"decrypt, Project=alpha (values are case-sensitive)", app, "kms:Decrypt", res(map[string]string{"Project": "alpha"}), false, false},
		{"decrypt, tag key in other case", app, "kms:Decrypt", res(map[string]string{"project": "Alpha"}), true, false},
		{"decrypt, untagged key", app, "kms:Decrypt", nil, false, false},
		{"decrypt, another principal", "arn:aws:iam::111122223333:role/other", "kms:Decrypt", res(map[string]string{"Project": "Alpha"}), false, false},
		{"tag Project=Alpha", app, "kms:TagResource", req(map[string]string{"Project": "Alpha"}), true, false},
		{"tag CostCenter and Project=Alpha", app, "kms:TagResource", req(map[string]string{"Project": "Alpha", "CostCenter": "7"}), true, false},
		{"tag an unlisted key", app, "kms:TagResource", req(map[string]string{"Project": "Alpha", "Secret": "x"}), false, true},
		{"tag Project=Beta", app, "kms:TagResource", req(map[string]string{"Project": "Beta"}), false, true},
		{"untag listed keys", app, "kms:UntagResource", AddTagKeys(nil, []string{"CostCenter"}), true, false},
		{"untag an unlisted key", app, "kms:UntagResource", AddTagKeys(nil, []string{"CostCenter", "Owner"}), false, false},
	})
}

// A missing tag: positive operators fail, their IfExists variants and the
// negated operators hold, Null tells presence; an empty tag value is a
// present tag.
func TestTagConditionAbsent(t *testing.T) {
	for _, tc := range []struct {
		cond string
		tags map[string]string
		want bool
	}{
		{`"StringEquals":{"aws:ResourceTag/Project":"Alpha"}`, nil, false},
		{`"StringEqualsIfExists":{"aws:ResourceTag/Project":"Alpha"}`, nil, true},
		{`"StringEqualsIfExists":{"aws:ResourceTag/Project":"Alpha"}`, map[string]string{"Project": "Beta"}, false},
		{`"StringNotEquals":{"aws:ResourceTag/Project":"Alpha"}`, nil, true},
		{`"StringLike":{"aws:ResourceTag/Project":"*"}`, nil, false},
		{`"StringLike":{"aws:ResourceTag/Project":"*"}`, map[string]string{"Project": ""}, true},
		{`"Null":{"aws:ResourceTag/Project":"true"}`, nil, true},
		{`"Null":{"aws:ResourceTag/Project":"false"}`, map[string]string{"Project": ""}, true},
		{`"ForAnyValue:StringEquals":{"aws:TagKeys":"Project"}`, nil, false},
		{`"ForAllValues:StringEquals":{"aws:TagKeys":"Project"}`, nil, true},
	} {
		p, err := Parse([]byte(stmt(base + `,"Condition":{` + tc.cond + `}`)))
		if err != nil {
			t.Fatalf("%s: %v", tc.cond, err)
		}
		ctx := AddResourceTags(nil, tc.tags)
		if d := p.Evaluate(Request{Principal: "arn:aws:iam::111122223333:user/u", Action: "kms:Decrypt", Context: ctx}); d.Allowed != tc.want {
			t.Errorf("%s with tags %v: %+v, want allowed=%v", tc.cond, tc.tags, d, tc.want)
		}
	}
}

func TestParseTagKeys(t *testing.T) {
	for _, tc := range []struct {
		cond string
		want error
	}{
		{`"StringEquals":{"aws:ResourceTag/":"x"}`, ErrMalformed},
		{`"StringEquals":{"aws:RequestTag/":"x"}`, ErrMalformed},
		{`"ForAllValues:StringEquals":{"aws:ResourceTag/Project":"x"}`, ErrUnsupported},
		{`"StringEquals":{"aws:ResourceTag/${aws:username}":"x"}`, ErrUnsupported},
		{`"StringEquals":{"aws:TagKeysX":"x"}`, ErrUnsupported},
	} {
		if _, err := Parse([]byte(stmt(base + `,"Condition":{` + tc.cond + `}`))); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.cond, err, tc.want)
		}
	}
	for _, cond := range []string{
		`"StringEquals":{"aws:ResourceTag/Project":"x","aws:RequestTag/a:b/c":"y"}`,
		`"ForAnyValue:StringLike":{"aws:tagkeys":"Pro*"}`,
		`"StringEqualsIgnoreCase":{"AWS:RESOURCETAG/cost-center":"X"}`,
	} {
		if _, err := Parse([]byte(stmt(base + `,"Condition":{` + cond + `}`))); err != nil {
			t.Errorf("%s: %v", cond, err)
		}
	}
}

func TestUsesResourceTags(t *testing.T) {
	with := mustParse(t, stmt(base+`,"Condition":{"StringEquals":{"AWS:ResourceTag/Project":"x"}}`))
	without := mustParse(t, stmt(base+`,"Condition":{"StringEquals":{"aws:RequestTag/Project":"x"}}`))
	if !with.UsesResourceTags() || without.UsesResourceTags() || (*Policy)(nil).UsesResourceTags() {
		t.Fatal("UsesResourceTags")
	}
	if a := testing.AllocsPerRun(100, func() { without.UsesKey(KeyResourceAliases) }); a != 0 {
		t.Errorf("UsesKey(KeyResourceAliases) allocates %v times", a)
	}
}

func TestAddTags(t *testing.T) {
	got := AddRequestTags(nil, map[string]string{"b": "2", "a": ""})
	want := map[string][]string{"aws:RequestTag/a": {""}, "aws:RequestTag/b": {"2"}, "aws:TagKeys": {"a", "b"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("AddRequestTags: %v", got)
	}
	if got := AddRequestTags(nil, nil); len(got) != 0 {
		t.Fatalf("AddRequestTags(nil): %v", got)
	}
	keys := []string{"z", "a"}
	if got := AddTagKeys(nil, keys); !reflect.DeepEqual(got, map[string][]string{"aws:TagKeys": {"a", "z"}}) || keys[0] != "z" {
		t.Fatalf("AddTagKeys: %v (input %v)", got, keys)
	}
}
