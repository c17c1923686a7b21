package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/lake"
)

// sessionCookie is the session cookie's name.
const sessionCookie = "tl_session"

// session is a signed-in user's session, carried in a signed cookie:
// "v1|name|role|expiry-unix|id" in base64url, ".", its HMAC-SHA256.
type session struct {
	User string
	Role api.Role
	Exp  time.Time
	ID   string // random; the CSRF token is derived from it
	// SSO: signed in at the sign-in provider (the role came from the ID
	// token's groups), not at the users file.
	SSO bool
}

// sessions signs and checks session cookies.
type sessions struct {
	key []byte
	ttl time.Duration
	now func() time.Time

	// store shares sign-outs between instances; nil: this instance only.
	store Revocations
	log   func(ctx context.Context, msg string, args ...any)

	mu      sync.Mutex
	revoked map[string]time.Time // signed-out session ids → expiry
}

// Revocations holds a record per signed-out session, so that every
// instance of the console refuses it (lake.Blobs under the lake's
// console/ location in AWS and locally). Get answers an error wrapping
// lake.ErrNotFound for a session never signed out.
type Revocations interface {
	Put(ctx context.Context, key string, body []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
}

// revocationKey is a session's record: the SHA-256 of its id, so the
// store never holds a live id.
func revocationKey(id string) string {
	sum := sha256.Sum256([]byte("telcolake console session\x00" + id))
	return "revoked/" + hex.EncodeToString(sum[:]) + ".json"
}

func (ss *sessions) sign(payload string) string {
	m := hmac.New(sha256.New, ss.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// issue returns a new session for u and its cookie value.
func (ss *sessions) issue(u User) (session, string) { return ss.issueFor(u, false, time.Time{}) }

// issueFor is issue for a user signed in at the users file or, with sso,
// at the sign-in provider; a non-zero until shortens the session (to the
// ID token's expiry).
func (ss *sessions) issueFor(u User, sso bool, until time.Time) (session, string) {
	s := session{User: u.Name, Role: u.Role, Exp: ss.now().Add(ss.ttl).Truncate(time.Second), ID: randomID(), SSO: sso}
	if !until.IsZero() && until.Before(s.Exp) {
		s.Exp = until.Truncate(time.Second)
	}
	f := []string{"v1", s.User, string(s.Role), strconv.FormatInt(s.Exp.Unix(), 10), s.ID}
	if sso {
		f = append(f, "sso")
	}
	enc := base64.RawURLEncoding.EncodeToString([]byte(strings.Join(f, "|")))
	return s, enc + "." + ss.sign(enc)
}

// check returns the session of a cookie value: signed with the key, not
// expired, not signed out.
func (ss *sessions) check(ctx context.Context, v string) (session, bool) {
	enc, mac, ok := strings.Cut(v, ".")
	if !ok || len(v) > 512 || !hmac.Equal([]byte(mac), []byte(ss.sign(enc))) {
		return session{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return session{}, false
	}
	f := strings.Split(string(raw), "|")
	if !(len(f) == 5 || len(f) == 6 && f[5] == "sso") || f[0] != "v1" {
		return session{}, false
	}
	exp, err := strconv.ParseInt(f[3], 10, 64)
	role, okRole := api.ParseRole(f[2])
	if err != nil || !okRole || !validName(f[1]) {
		return session{}, false
	}
	s := session{User: f[1], Role: role, Exp: time.Unix(exp, 0), ID: f[4], SSO: len(f) == 6}
	if !ss.now().Before(s.Exp) {
		return session{}, false
	}
	ss.mu.Lock()
	_, gone := ss.revoked[s.ID]
	ss.mu.Unlock()
	if gone {
		return session{}, false
	}
	if ss.store == nil {
		return s, true
	}
	_, err = ss.store.Get(ctx, revocationKey(s.ID))
	switch {
	case errors.Is(err, lake.ErrNotFound):
		return s, true
	case err == nil:
		ss.remember(s)
		return session{}, false
	default: // the store cannot say: refuse rather than honour a signed-out session
		ss.log(ctx, "web: revocation check failed; session refused", "err", err)
		return session{}, false
	}
}

func (ss *sessions) remember(s session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.now()
	for id, exp := range ss.revoked {
		if !now.Before(exp) {
			delete(ss.revoked, id)
		}
	}
	ss.revoked[s.ID] = s.Exp
}

// revoke ends a session: on this instance at once, and on every other one
// through the store's record.
func (ss *sessions) revoke(ctx context.Context, s session) error {
	ss.remember(s)
	if ss.store == nil {
		return nil
	}
	body := fmt.Appendf(nil, `{"expires":%q}`, s.Exp.UTC().Format(time.RFC3339))
	if err := ss.store.Put(ctx, revocationKey(s.ID), body); err != nil {
		return fmt.Errorf("web: record sign-out: %w", err)
	}
	return nil
}

// csrf is the CSRF token of a session (or of a sign-in form's nonce).
func (ss *sessions) csrf(id string) string {
	return ss.sign("csrf|" + id)
}

func (ss *sessions) validCSRF(id, token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(ss.csrf(id))) == 1
}

// secure reports whether cookies get the Secure attribute: always, except
// for plain http to a loopback host (the local console on 127.0.0.1 or
// localhost), where a browser would not send a Secure cookie back.
func secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

func (ss *sessions) cookie(r *http.Request, name, value string, exp time.Time) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: "/console/", HttpOnly: true, Secure: secure(r),
		SameSite: http.SameSiteStrictMode}
	if exp.IsZero() {
		c.MaxAge = -1
	} else {
		c.Expires = exp
		c.MaxAge = int(exp.Sub(ss.now()).Seconds())
	}
	return c
}

// randomID is 128 random bits in hex.
func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
