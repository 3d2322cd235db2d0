// SPDX-License-Identifier: Apache-2.0

package strictyaml

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

type route struct {
	Name    string        `yaml:"name"`
	Timeout time.Duration `yaml:"connect_timeout"`
	CIDs    []uint32      `yaml:"allowed_cids"`
}

// selfDecoding decodes any mapping itself, refusing a key "bad".
type selfDecoding struct{ keys []string }

func (s *selfDecoding) UnmarshalYAML(n *yaml.Node) error {
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return err
	}
	for k := range m {
		if k == "bad" {
			return errors.New("no bad keys here")
		}
		s.keys = append(s.keys, k)
	}
	return nil
}

type config struct {
	Policy  *selfDecoding     `yaml:"policy"`
	Routes  []route           `yaml:"routes"`
	Admin   string            `yaml:"admin"`
	Max     int               `yaml:"max_connections"`
	Debug   bool              `yaml:"allow_debug"`
	Creds   *struct{ X int }  `yaml:"credentials"`
	Labels  map[string]string `yaml:"labels"`
	Ignored string            `yaml:"-"`
	secret  string            `yaml:"secret"` // unexported: not a key
}

func TestDecodeGood(t *testing.T) {
	var c config
	err := Decode([]byte("routes:\n  - {name: kms, connect_timeout: 5s, allowed_cids: [16]}\nadmin: tcp://127.0.0.1:9\nmax_connections: 8\nallow_debug: false\nlabels: {a: b}\n"), &c)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Routes) != 1 || c.Routes[0].Timeout != 5*time.Second || c.Routes[0].CIDs[0] != 16 || c.Max != 8 || c.Labels["a"] != "b" {
		t.Fatalf("%+v", c)
	}
	if err := Decode(nil, &c); err != nil {
		t.Fatalf("empty document: %v", err)
	}
	if err := Decode([]byte("policy: {Version: 1, Statement: []}\n"), &c); err != nil || len(c.Policy.keys) != 2 {
		t.Fatalf("a self-decoding value: %v %+v", err, c.Policy)
	}
	if c.secret != "" {
		t.Fatal("an unexported field was decoded")
	}
	if err := Decode([]byte("admin: ~\n"), &c); err != nil {
		t.Fatalf("null value: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		in   string
		want []string // every problem, in line order
	}{
		{"routez: []\n", []string{`line 1: unknown key "routez" (did you mean "routes"?)`}},
		{"admin: x\nroutes:\n  - name: a\n    conect_timeout: 5s\n", []string{`line 4: routes[0]: unknown key "conect_timeout" (did you mean "connect_timeout"?)`}},
		{"routes:\n  - name: a\n    connect_timeout: soon\n", []string{`line 3: routes[0].connect_timeout: want a duration such as 500ms, 30s or 5m, not "soon"`}},
		{"max_connections: many\nallow_debug: maybe\n", []string{
			`line 1: max_connections: want a whole number, not "many"`,
			`line 2: allow_debug: want true or false, not "maybe"`}},
		{"max_connections: 1.5\n", []string{`line 1: max_connections: want a whole number, not "1.5"`}},
		{"max_connections: 1e6\n", []string{`line 1: max_connections: want a whole number, not "1e6"`}},
		{"max_connections: \"64\"\n", []string{`line 1: max_connections: want a whole number, not "64"`}},
		{"routes:\n  - allowed_cids: [2.0]\n", []string{`line 2: routes[0].allowed_cids[0]: want a whole number from 0 to 4294967295, not "2.0"`}},
		{"routes:\n  - allowed_cids: [-1]\n", []string{`line 2: routes[0].allowed_cids[0]: want a whole number from 0 to 4294967295, not "-1"`}},
		{"routes: {name: a}\n", []string{`line 1: routes: want a list, not a mapping`}},
		{"admin: [a]\n", []string{`line 1: admin: want a string, not a list`}},
		{"hello\n", []string{`line 1: want a mapping of keys, not "hello"`}},
		{"admin: a\n---\nadmin: b\n", []string{`line 2: a second YAML document: a configuration file holds one`}},
		{"admin: [\n", []string{`line 1: YAML: did not find expected node content`}},
		{"admin: a\nadmin: b\n", []string{`line 2: YAML: mapping key "admin" already defined at line 1`}},
		{"policy:\n  bad: 1\n", []string{`line 2: policy: no bad keys here`}},
		{"secret: x\nIgnored: y\n", []string{`line 1: unknown key "secret"`, `line 2: unknown key "Ignored"`}},
		{"routes: [&r {name: a}, *r]\n", []string{`line 1: routes[1]: YAML aliases (*r) are not allowed in a configuration file; write the value out`}},
		{"routes: [{name: &n a}]\nadmin: *n\n", []string{`line 2: admin: YAML aliases (*n) are not allowed in a configuration file; write the value out`}},
		{"labels: {&k a: b, *k : c}\n", []string{`line 1: labels: YAML aliases (*k) are not allowed in a configuration file; write the value out`}},
		{"routes: [{&k name: a, *k : b}]\n", []string{`line 1: routes[0]: YAML aliases (*k) are not allowed in a configuration file; write the value out`}},
		{"labels: {a: &v b, c: *v}\npolicy: *v\n", []string{
			`line 1: labels.c: YAML aliases (*v) are not allowed in a configuration file; write the value out`,
			`line 2: policy: YAML aliases (*v) are not allowed in a configuration file; write the value out`}},
	}
	for _, tt := range tests {
		var c config
		err := Decode([]byte(tt.in), &c)
		if err == nil {
			t.Errorf("%q: no error", tt.in)
			continue
		}
		var got []string
		var es Errors
		var e *Error
		switch {
		case errors.As(err, &es):
			for _, e := range es {
				got = append(got, e.Error())
			}
		case errors.As(err, &e):
			got = []string{e.Error()}
		default:
			t.Errorf("%q: %T %v", tt.in, err, err)
			continue
		}
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%q:\n got %q\nwant %q", tt.in, got, tt.want)
		}
		for _, g := range got {
			if strings.Contains(g, "strictyaml.") || strings.Contains(g, "time.Duration") || strings.Contains(g, "uint32") {
				t.Errorf("%q: a Go name in %q", tt.in, g)
			}
		}
	}
}

// FuzzDecode: no panic, and an accepted document decodes as yaml.v3 would.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"routes:\n  - {name: kms, connect_timeout: 5s}\n", "admin: [", "a: &x 1\nb: *x\n", "routes: [{allowed_cids: [1, 2]}]", "---\n---\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c config
		err := Decode(b, &c)
		if err != nil {
			var e *Error
			var es Errors
			if !errors.As(err, &e) && !errors.As(err, &es) {
				t.Fatalf("%T %v", err, err)
			}
		}
	})
}

// TestTypeErrorsDoNotQuoteSecrets: a value in the wrong place (a database
// URL on the line of a number, a secret pasted at the wrong key) is named
// in an error that reaches logs: a connection string with a password is
// not quoted, and a long value only by its first 8 characters.
func TestTypeErrorsDoNotQuoteSecrets(t *testing.T) {
	const awsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	for _, tt := range []struct{ in, want, hidden string }{
		{"max_connections: postgres://kms:hunter2@db:5432/kms\n",
			`line 1: max_connections: want a whole number, not a connection string with a password (not shown)`, "hunter2"},
		{"max_connections: \"host=db user=kms Password=hunter2\"\n",
			`line 1: max_connections: want a whole number, not a connection string with a password (not shown)`, "hunter2"},
		{"allow_debug: " + awsSecret + "\n",
			`line 1: allow_debug: want true or false, not "wJalrXUt"… (40 characters)`, "nFEMI"},
		{"max_connections: 0123456789abcdefX\n",
			`line 1: max_connections: want a whole number, not "01234567"… (17 characters)`, "89abcdef"},
		{"max_connections: 0123456789abcdef\n", // 16: quoted whole
			`line 1: max_connections: want a whole number, not "0123456789abcdef"`, ""},
		{"max_connections: postgres://kms@db:5432/kms\n", // no password: its start
			`line 1: max_connections: want a whole number, not "postgres"… (26 characters)`, ""},
	} {
		var c config
		err := Decode([]byte(tt.in), &c)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q: %v, want %s", tt.in, err, tt.want)
		}
		if tt.hidden != "" && err != nil && strings.Contains(err.Error(), tt.hidden) {
			t.Errorf("%q: the error shows %q: %v", tt.in, tt.hidden, err)
		}
	}
}
