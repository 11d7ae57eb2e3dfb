package api

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"bonafide"
)

func TestRespace(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{}`, `{}`},
		{`[]`, `[]`},
		{`{"a":1,"b":[1,2,{"c":null}]}`, `{"a": 1, "b": [1, 2, {"c": null}]}`},
		// Separators inside strings stay as they are, whatever the escapes around them.
		{`{"k:,":"v, w: x"}`, `{"k:,": "v, w: x"}`},
		{`{"q":"a \"quoted, one\": yes","n":2}`, `{"q": "a \"quoted, one\": yes", "n": 2}`},
		{`{"bs":"ends in a backslash\\","x":"y"}`, `{"bs": "ends in a backslash\\", "x": "y"}`},
		{`["\\\"",":"]`, `["\\\"", ":"]`},
	}
	for _, c := range cases {
		if got := string(respace([]byte(c.in))); got != c.want {
			t.Errorf("respace(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

// FuzzRespace: the respaced text is valid JSON with the same value, and has a space after every
// separator outside strings.
func FuzzRespace(f *testing.F) {
	f.Add(`{"a":"b,c:d","e":[1,{"f":"\\\""}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			return
		}
		compact, err := json.Marshal(v)
		if err != nil {
			return
		}
		out := respace(compact)
		var back any
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("respace(%s) = %s: not JSON: %v", compact, out, err)
		}
		a, _ := json.Marshal(v)
		b, _ := json.Marshal(back)
		if string(a) != string(b) {
			t.Fatalf("respace changed the value: %s -> %s", a, b)
		}
	})
}

// TestOzJSONOnTheWire: what Oz's deployment scripts grep for is in real answers.
func TestOzJSONOnTheWire(t *testing.T) {
	env := tuServer(t)
	env.client.Transport = oaChecker(t).Transport(nil, t)
	company := env.tuCompany("Acme")
	env.tuCreateUser(bonafide.RoleClient, company.ID, "client@example.com")
	r := env.tuDo("POST", "/api/authorize/auth", "", map[string]any{"credentials": map[string]string{"email": "client@example.com", "password": tuPassword}}).tuExpect(200, 0)
	// The init script: grep -Po '"access_token": "\K[0-9a-z]*'
	m := regexp.MustCompile(`"access_token": "([0-9a-z]*)`).FindSubmatch(r.Body)
	if m == nil || len(m[1]) != 128 || string(m[1]) != r.Str("access_token") {
		t.Fatalf("the deployment script's grep finds no token in %s", r.Body)
	}
	if !strings.Contains(string(r.Body), `", "expire_token": "`) {
		t.Errorf("no \", \" separator: %s", r.Body)
	}
	e := env.tuDo("GET", "/api/folders", "", nil).tuExpect(401, 6)
	if !strings.HasPrefix(string(e.Body), `{"error_code": 6, "error_message": "`) {
		t.Errorf("error body does not start as Oz's does: %s", e.Body)
	}
	// The webhook body is written the same way.
	u := env.tuUserLoggedIn(bonafide.RoleClient, company.ID, "c2@example.com")
	f := env.tuFolder(u)
	body, err := env.API.RenderFolder(tuCtx(), f["folder_id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(body), `{"folder_id": "`) || strings.Contains(string(body), `":"`) {
		t.Errorf("webhook body not in Oz's spacing: %s", body)
	}
}

// with_analyses=true always gives analyses, [] for a folder without any.
func TestWithAnalysesAlwaysThere(t *testing.T) {
	env := tuServer(t)
	env.client.Transport = oaChecker(t).Transport(nil, t)
	company := env.tuCompany("Acme")
	u := env.tuUserLoggedIn(bonafide.RoleClient, company.ID, "client@example.com")
	id := env.tuFolder(u)["folder_id"].(string)
	r := env.tuDo("GET", "/api/folders/"+id+"?with_analyses=true", u.Token, nil).tuExpect(200, 0)
	if a, ok := r.Obj()["analyses"].([]any); !ok || len(a) != 0 || !strings.Contains(string(r.Body), `"analyses": []`) {
		t.Errorf("%s: want \"analyses\": []", r)
	}
	items := env.tuDo("GET", "/api/folders?with_analyses=true", u.Token, nil).tuExpect(200, 0).Items()
	if a, ok := items[0]["analyses"].([]any); !ok || len(a) != 0 {
		t.Errorf("list item without analyses: %v", items[0])
	}
	if _, ok := env.tuDo("GET", "/api/folders/"+id, u.Token, nil).tuExpect(200, 0).Obj()["analyses"]; ok {
		t.Errorf("analyses without with_analyses=true")
	}
}
