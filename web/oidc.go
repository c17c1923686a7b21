package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/telcolake/telcolake/api"
)

// OIDC configures sign-in through an OpenID Connect provider's hosted
// page (Cognito's hosted UI in AWS): the authorization code flow with
// PKCE, the ID token verified against the provider's keys (signature,
// issuer, audience, expiry, nonce), and the role taken from the token's
// groups (Cognito's "cognito:groups"; a group per role).
type OIDC struct {
	// Issuer is the provider's issuer URL (for Cognito
	// https://cognito-idp.<region>.amazonaws.com/<pool id>); its
	// /.well-known/openid-configuration is read at the first sign-in.
	Issuer string
	// ClientID is the app client; ClientSecret is empty for a public
	// client (PKCE only).
	ClientID, ClientSecret string
	// RedirectURL is this console's /console/auth/callback as registered
	// with the client.
	RedirectURL string
	// LogoutURL, when set, ends the provider's own session at sign-out
	// (Cognito: https://<domain>/logout); client_id and logout_uri are added.
	LogoutURL, AfterLogout string
	// HTTP is the client for discovery, keys and the token exchange
	// (http.DefaultClient when nil).
	HTTP *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
}

// groupsClaim is where Cognito puts a user's groups.
const groupsClaim = "cognito:groups"

func (o *OIDC) ctx(ctx context.Context) context.Context {
	if o.HTTP != nil {
		return oidc.ClientContext(ctx, o.HTTP)
	}
	return ctx
}

// discover reads the provider's configuration once (again after a
// failure).
func (o *OIDC) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	// The key set fetches keys with the context it was made with: not the
	// request's, which ends with the request.
	p, err := oidc.NewProvider(o.ctx(context.WithoutCancel(ctx)), o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("web: oidc discovery: %w", err)
	}
	o.provider = p
	return p, nil
}

// flowCookie holds the sign-in's state, nonce, PKCE verifier and where to
// go next, signed; it is SameSite=Lax, as the provider's redirect back is
// a cross-site navigation.
const flowCookie = "tl_oidc"

type flow struct{ State, Nonce, Verifier, Next string }

func (ss *sessions) sealFlow(f flow) string {
	b, _ := json.Marshal(f)
	enc := base64.RawURLEncoding.EncodeToString(b)
	return enc + "." + ss.sign("oidc|"+enc)
}

func (ss *sessions) openFlow(v string) (flow, bool) {
	enc, mac, ok := strings.Cut(v, ".")
	if !ok || len(v) > 2048 || !hmac.Equal([]byte(mac), []byte(ss.sign("oidc|"+enc))) {
		return flow{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	var f flow
	if err != nil || json.Unmarshal(b, &f) != nil || f.State == "" || f.Verifier == "" {
		return flow{}, false
	}
	return f, true
}

func random32() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ssoStart sends the browser to the provider's sign-in page.
func (c *Console) ssoStart(w http.ResponseWriter, r *http.Request) {
	o := c.cfg.OIDC
	p, err := o.discover(r.Context())
	if err != nil {
		c.cfg.Log.ErrorContext(r.Context(), "web: sign-in provider", "err", err)
		c.fail(w, r, http.StatusBadGateway, "ssoDown")
		return
	}
	f := flow{State: random32(), Nonce: random32(), Verifier: random32(), Next: safeNext(r.URL.Query().Get("next"))}
	ck := c.ss.cookie(r, flowCookie, c.ss.sealFlow(f), c.cfg.Now().Add(10*time.Minute))
	ck.SameSite = http.SameSiteLaxMode
	http.SetCookie(w, ck)
	sum := sha256.Sum256([]byte(f.Verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {o.ClientID}, "redirect_uri": {o.RedirectURL},
		"scope": {"openid email profile"}, "state": {f.State}, "nonce": {f.Nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	auth := p.Endpoint().AuthURL
	sep := "?"
	if strings.Contains(auth, "?") {
		sep = "&"
	}
	http.Redirect(w, r, auth+sep+q.Encode(), http.StatusSeeOther)
}

// ssoClaims are the ID token's claims the console reads.
type ssoClaims struct {
	Username string   `json:"cognito:username"`
	Email    string   `json:"email"`
	Groups   []string `json:"cognito:groups"`
}

// roleOf is the strongest role among a user's groups.
func roleOf(groups []string) (api.Role, bool) {
	best, ok := api.Role(""), false
	rank := map[api.Role]int{api.RoleAgent: 1, api.RoleAnalyst: 2, api.RoleAdmin: 3}
	for _, g := range groups {
		if r, known := api.ParseRole(g); known && rank[r] > rank[best] {
			best, ok = r, true
		}
	}
	return best, ok
}

// ssoName is the user's name in sessions and audit lines: the provider's
// user name when it is a console name, else "sso-" and a hash of the
// token's subject.
func ssoName(cl ssoClaims, sub string) string {
	for _, n := range []string{cl.Username, cl.Email} {
		if n = strings.ToLower(n); validName(n) {
			return n
		}
	}
	sum := sha256.Sum256([]byte(sub))
	return "sso-" + hex.EncodeToString(sum[:6])
}

// ssoCallback takes the provider's answer: it checks the state, trades
// the code (with the PKCE verifier) for tokens, verifies the ID token and
// its nonce, and opens a session with the role of the user's groups.
func (c *Console) ssoCallback(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(flowCookie)
	var f flow
	ok := err == nil
	if ok {
		f, ok = c.ss.openFlow(ck.Value)
	}
	q := r.URL.Query()
	if !ok || q.Get("state") == "" || !hmac.Equal([]byte(q.Get("state")), []byte(f.State)) {
		c.fail(w, r, http.StatusForbidden, "csrf")
		return
	}
	clear := c.ss.cookie(r, flowCookie, "", time.Time{})
	clear.SameSite = http.SameSiteLaxMode
	http.SetCookie(w, clear)
	if q.Get("error") != "" || q.Get("code") == "" {
		c.cfg.Log.InfoContext(r.Context(), "web: sso sign-in refused by the provider", "error", cutName(q.Get("error")))
		c.fail(w, r, http.StatusForbidden, "ssoRefused")
		return
	}
	cl, sub, exp, err := c.exchange(r.Context(), q.Get("code"), f)
	if err != nil {
		c.cfg.Log.WarnContext(r.Context(), "web: sso sign-in failed", "err", err)
		c.fail(w, r, http.StatusForbidden, "ssoRefused")
		return
	}
	role, ok := roleOf(cl.Groups)
	if !ok {
		c.fail(w, r, http.StatusForbidden, "noRole")
		return
	}
	u := User{Name: ssoName(cl, sub), Role: role}
	s, v := c.ss.issueFor(u, true, exp)
	c.cfg.Log.InfoContext(r.Context(), "web: signed in", "user", u.Name, "role", string(u.Role), "via", "sso")
	http.SetCookie(w, c.ss.cookie(r, sessionCookie, v, s.Exp))
	next := f.Next
	if next == "" {
		next = homeOf(s)
	}
	// A page, not a redirect: the browser arrived from the provider's site,
	// and a SameSite=Strict cookie rides only on a navigation this site
	// starts.
	c.render(w, r, http.StatusOK, "continue", c.page(r, &s, struct{ Next string }{next}))
}

// exchange trades the code for tokens and verifies the ID token.
func (c *Console) exchange(ctx context.Context, code string, f flow) (ssoClaims, string, time.Time, error) {
	o := c.cfg.OIDC
	p, err := o.discover(ctx)
	if err != nil {
		return ssoClaims{}, "", time.Time{}, err
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {o.RedirectURL},
		"client_id": {o.ClientID}, "code_verifier": {f.Verifier}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Endpoint().TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return ssoClaims{}, "", time.Time{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if o.ClientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(o.ClientID), url.QueryEscape(o.ClientSecret))
	}
	hc := o.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return ssoClaims{}, "", time.Time{}, fmt.Errorf("token exchange: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return ssoClaims{}, "", time.Time{}, fmt.Errorf("token exchange: %s", resp.Status)
	}
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.IDToken == "" {
		return ssoClaims{}, "", time.Time{}, errors.New("token exchange: no id_token")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: o.ClientID, Now: c.cfg.Now}).Verify(o.ctx(ctx), tok.IDToken)
	if err != nil {
		return ssoClaims{}, "", time.Time{}, fmt.Errorf("id token: %w", err)
	}
	if !hmac.Equal([]byte(idt.Nonce), []byte(f.Nonce)) {
		return ssoClaims{}, "", time.Time{}, errors.New("id token: nonce does not match")
	}
	var cl ssoClaims
	if err := idt.Claims(&cl); err != nil {
		return ssoClaims{}, "", time.Time{}, fmt.Errorf("id token claims: %w", err)
	}
	return cl, idt.Subject, idt.Expiry, nil
}

// ssoLogout is where sign-out sends an SSO user: the provider's logout, so
// its own session ends too.
func (o *OIDC) ssoLogout() string {
	if o == nil || o.LogoutURL == "" {
		return "/console/signin"
	}
	return o.LogoutURL + "?" + url.Values{"client_id": {o.ClientID}, "logout_uri": {o.AfterLogout}}.Encode()
}
