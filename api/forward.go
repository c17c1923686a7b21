package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// A console user (WithUser) has no API key to pass on, so a sharded front
// forwards who the user is to its shards in a signed header: the user's
// name, role and an expiry, with an HMAC under Config.ForwardKey, which the
// front and its shards derive from the same keys. A shard accepts the
// header in place of a key only when the signature holds and it has not
// expired, so a caller of a shard cannot claim a user or a role: masking,
// the role matrix and the audit line on the shard are the ones the user
// gets from one instance.

// Headers a front adds to its requests to a shard.
const (
	userHeader = "X-Telcolake-User" // the signed console user
	runHeader  = "X-Telcolake-Run"  // the run the front answers from
)

// forwardTTL is how long a signed user header is good for: a request's
// life, not a session's.
const forwardTTL = 2 * time.Minute

// signUser is the header value forwarding key k (a console user's).
func (s *Server) signUser(k Key) string {
	exp := strconv.FormatInt(s.now().Add(forwardTTL).Unix(), 10)
	body := base64.RawURLEncoding.EncodeToString([]byte(k.Name)) + "." + string(k.Role) + "." + exp
	return body + "." + s.forwardMAC(body)
}

func (s *Server) forwardMAC(body string) string {
	m := hmac.New(sha256.New, s.cfg.ForwardKey)
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

// forwardedUser is the console user a front forwarded in h, if its
// signature holds and it has not expired.
func (s *Server) forwardedUser(h http.Header) (Key, bool) {
	v := h.Get(userHeader)
	if v == "" || len(v) > 1024 {
		return Key{}, false
	}
	i := strings.LastIndexByte(v, '.')
	if i < 0 || !hmac.Equal([]byte(v[i+1:]), []byte(s.forwardMAC(v[:i]))) {
		return Key{}, false
	}
	parts := strings.Split(v[:i], ".")
	if len(parts) != 3 {
		return Key{}, false
	}
	name, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || !strings.HasPrefix(string(name), "user:") {
		return Key{}, false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || s.now().Unix() > exp {
		return Key{}, false
	}
	role, known := parseRole(parts[1])
	if !known {
		return Key{}, false
	}
	return Key{Name: string(name), Role: role}, true
}
