package web

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fakeIssuer is an in-process OpenID Connect provider shaped like
// Cognito's: discovery, JWKS, an authorize endpoint that signs in a fixed
// user at once, and a token endpoint that checks the PKCE verifier and
// answers an RS256 ID token with cognito:groups.
type fakeIssuer struct {
	srv      *httptest.Server
	key      *rsa.PrivateKey // the published key
	clientID string
	now      func() time.Time

	mu       sync.Mutex
	groups   []string
	username string
	signWith *rsa.PrivateKey            // nil: key
	mutate   func(claims jwt.MapClaims) // changes the next tokens
	codes    map[string]authRequest
}

type authRequest struct{ challenge, nonce, redirect string }

func newFakeIssuer(t *testing.T, clientID string, now func() time.Time) *fakeIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIssuer{key: key, clientID: clientID, now: now, codes: map[string]authRequest{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": f.srv.URL, "authorization_endpoint": f.srv.URL + "/oauth2/authorize",
			"token_endpoint": f.srv.URL + "/oauth2/token", "jwks_uri": f.srv.URL + "/.well-known/jwks.json",
			"response_types_supported": []string{"code"}, "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	})
	mux.HandleFunc("GET /oauth2/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != clientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
			http.Error(w, "bad authorize request", http.StatusBadRequest)
			return
		}
		code := random32()
		f.mu.Lock()
		f.codes[code] = authRequest{q.Get("code_challenge"), q.Get("nonce"), q.Get("redirect_uri")}
		f.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		f.mu.Lock()
		defer f.mu.Unlock()
		ar, ok := f.codes[r.PostForm.Get("code")]
		delete(f.codes, r.PostForm.Get("code"))
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("client_id") != clientID ||
			r.PostForm.Get("redirect_uri") != ar.redirect || base64.RawURLEncoding.EncodeToString(sum[:]) != ar.challenge {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		claims := jwt.MapClaims{"iss": f.srv.URL, "aud": clientID, "sub": "5e1f-sub", "token_use": "id", "nonce": ar.nonce,
			"iat": f.now().Unix(), "exp": f.now().Add(time.Hour).Unix(), "cognito:username": f.username, "cognito:groups": f.groups}
		if f.mutate != nil {
			f.mutate(claims)
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		tok.Header["kid"] = "k1"
		signer := f.key
		if f.signWith != nil {
			signer = f.signWith
		}
		s, err := tok.SignedString(signer)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"id_token": s, "access_token": "opaque", "token_type": "Bearer", "expires_in": 3600})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// ssoSignIn runs the code flow: the console's start, the provider's
// authorize redirect, the console's callback. It returns the callback's
// answer.
func (c *client) ssoSignIn(t *testing.T, tamper func(callback *url.URL)) *http.Response {
	t.Helper()
	start := c.do("GET", "/console/auth/start?next=/console/segments", nil)
	if start.StatusCode != http.StatusSeeOther {
		t.Fatalf("start: %d", start.StatusCode)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(start.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d", resp.StatusCode)
	}
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if tamper != nil {
		tamper(cb)
	}
	return c.do("GET", cb.RequestURI(), nil)
}

func TestSSOSignIn(t *testing.T) {
	f := newFixture(t)
	iss := newFakeIssuer(t, "console-client", func() time.Time { return f.now })
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	cfg := f.console.cfg
	cfg.Users = nil
	cfg.OIDC = &OIDC{Issuer: iss.srv.URL, ClientID: "console-client", RedirectURL: "https://console.example.com/console/auth/callback",
		LogoutURL: iss.srv.URL + "/logout", AfterLogout: "https://console.example.com/console/signin"}
	sso, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.console = sso
	for _, tt := range []struct {
		name     string
		groups   []string
		signWith *rsa.PrivateKey
		mutate   func(jwt.MapClaims)
		tamper   func(*url.URL)
		status   int
		role     string
	}{
		{name: "analyst", groups: []string{"analyst"}, status: 200, role: "analyst"},
		{name: "strongest group", groups: []string{"agent", "admin"}, status: 200, role: "admin"},
		{name: "agent", groups: []string{"agent"}, status: 200, role: "agent"},
		{name: "no console group", groups: []string{"billing"}, status: 403},
		{name: "signed by another key", groups: []string{"admin"}, signWith: other, status: 403},
		{name: "another audience", groups: []string{"admin"}, mutate: func(c jwt.MapClaims) { c["aud"] = "other-client" }, status: 403},
		{name: "another issuer", groups: []string{"admin"}, mutate: func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }, status: 403},
		{name: "expired", groups: []string{"admin"}, mutate: func(c jwt.MapClaims) { c["exp"] = f.now.Add(-time.Minute).Unix() }, status: 403},
		{name: "nonce of another sign-in", groups: []string{"admin"}, mutate: func(c jwt.MapClaims) { c["nonce"] = "replayed" }, status: 403},
		{name: "forged state", groups: []string{"admin"}, tamper: func(u *url.URL) {
			q := u.Query()
			q.Set("state", "forged")
			u.RawQuery = q.Encode()
		}, status: 403},
		{name: "code used twice / not issued", groups: []string{"admin"}, tamper: func(u *url.URL) {
			q := u.Query()
			q.Set("code", "not-a-code")
			u.RawQuery = q.Encode()
		}, status: 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			iss.mu.Lock()
			iss.groups, iss.username, iss.signWith, iss.mutate = tt.groups, "Wang.Fang", tt.signWith, tt.mutate
			iss.mu.Unlock()
			c := f.client("console.example.com")
			resp := c.ssoSignIn(t, tt.tamper)
			body := text(t, resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("callback: %d, want %d: %.200s", resp.StatusCode, tt.status, body)
			}
			if tt.status != 200 {
				if c.cookies[sessionCookie] != nil {
					t.Error("a refused sign-in set a session cookie")
				}
				return
			}
			if !strings.Contains(body, `content="0;url=/console/segments"`) {
				t.Errorf("callback page does not continue to the next page: %.300s", body)
			}
			ck := c.cookies[sessionCookie]
			if ck == nil || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || !ck.Expires.Equal(f.now.Add(time.Hour)) {
				t.Fatalf("session cookie %+v: want HttpOnly, Secure, Strict, ending with the ID token", ck)
			}
			page := c.do("GET", "/console/segments", nil)
			pb := text(t, page)
			if page.StatusCode != 200 || !strings.Contains(pb, "wang.fang · "+tt.role) {
				t.Fatalf("segments as %s: %d", tt.role, page.StatusCode)
			}
			search := c.do("GET", "/console/search", nil)
			sb := text(t, search)
			wantSearch := map[string]int{"agent": 403, "analyst": 200, "admin": 200}[tt.role]
			if search.StatusCode != wantSearch {
				t.Errorf("search: %d, want %d", search.StatusCode, wantSearch)
			}
			if search.StatusCode == 200 && strings.Contains(sb, "Person") != (tt.role == "admin") {
				t.Errorf("search masking wrong for %s", tt.role)
			}
			if !strings.Contains(f.audit.String(), `"key":"user:wang.fang"`) && search.StatusCode == 200 {
				t.Error("no audit line for the SSO user")
			}
			out := c.do("POST", "/console/signout", url.Values{"csrf": {c.csrf(t, pb)}})
			if out.StatusCode != http.StatusSeeOther || !strings.HasPrefix(out.Header.Get("Location"), iss.srv.URL+"/logout?") {
				t.Errorf("sign-out: %d to %s, want the provider's logout", out.StatusCode, out.Header.Get("Location"))
			}
			c.cookies[sessionCookie] = ck
			if resp := c.do("GET", "/console/segments", nil); resp.StatusCode != http.StatusSeeOther {
				t.Errorf("signed-out SSO session: %d, want 303", resp.StatusCode)
			}
		})
	}
	// Without a users file the password form is gone and a password POST
	// signs nobody in.
	c := f.client("console.example.com")
	form := text(t, c.do("GET", "/console/signin", nil))
	if strings.Contains(form, `id="signin"`) || !strings.Contains(form, `id="sso"`) {
		t.Error("sign-in page: want only the SSO link")
	}
}
