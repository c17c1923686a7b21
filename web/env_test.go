package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/api"
)

func TestWithConsole(t *testing.T) {
	u, err := NewUser("lee", api.RoleAnalyst, "lee-password-1")
	if err != nil {
		t.Fatal(err)
	}
	apiH := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("api")) })
	key := strings.Repeat("ab", 32)
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

	h, on, err := WithConsole(env(nil), apiH, nil)
	if err != nil || on {
		t.Fatalf("no console configured: on %v, err %v", on, err)
	}
	for name, kv := range map[string]map[string]string{
		"short key":               {EnvUsers: u.Entry(), EnvKey: "abcd"},
		"no key":                  {EnvUsers: u.Entry()},
		"bad entry":               {EnvUsers: "lee:root:x", EnvKey: key},
		"no such file":            {EnvUsersFile: "/nonexistent/users", EnvKey: key},
		"issuer without a client": {EnvOIDCIssuer: "https://cognito-idp.eu-west-1.amazonaws.com/pool", EnvKey: key},
	} {
		if _, _, err := WithConsole(env(kv), apiH, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	h, on, err = WithConsole(env(map[string]string{EnvUsers: u.Entry(), EnvKey: key}), apiH, nil)
	if err != nil || !on {
		t.Fatalf("console: on %v, err %v", on, err)
	}
	for _, tt := range []struct {
		target string
		status int
		body   string
	}{
		{"/v1/customers", 200, "api"},
		{"/healthz", 200, "api"},
		{"/console", http.StatusSeeOther, ""},
		{"/console/signin", 200, "<form"},
		{"/console/search", http.StatusSeeOther, ""},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", tt.target, nil))
		if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.body) {
			t.Errorf("%s: %d %.80q, want %d with %q", tt.target, w.Code, w.Body.String(), tt.status, tt.body)
		}
	}
	// Cognito alone: the console is on with the provider's link only.
	h, on, err = WithConsole(env(map[string]string{EnvOIDCIssuer: "https://cognito-idp.eu-west-1.amazonaws.com/pool", EnvOIDCClientID: "c",
		EnvOIDCRedirect: "https://crm.example.com/console/auth/callback", EnvKey: key}), apiH, nil)
	if err != nil || !on {
		t.Fatalf("console with a provider: on %v, err %v", on, err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/console/signin", nil))
	if !strings.Contains(w.Body.String(), "/console/auth/start") || strings.Contains(w.Body.String(), `id="signin"`) {
		t.Errorf("sign-in page with a provider only: %.300s", w.Body.String())
	}
	us, err := ParseUsers([]byte(strings.NewReplacer(",", "\n", ":", " ").Replace(u.Entry())))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := us.Check("lee", "lee-password-1"); !ok {
		t.Error("an entry does not round-trip")
	}
}
