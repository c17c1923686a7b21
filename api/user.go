package api

import (
	"context"
	"strings"
)

type userKey struct{}

// WithUser returns a context in which a Server answers as staff member
// name with role, without an API key: the console signs people in itself
// and then asks the API on their behalf, so the role matrix, the masking
// and the audit line are the API's. The audit line names the key
// "user:"+name. Only code can set it; no request header does.
func WithUser(ctx context.Context, name string, role Role) context.Context {
	return context.WithValue(ctx, userKey{}, Key{Name: "user:" + name, Role: role})
}

// userOf returns the signed-in user of a context (WithUser).
func userOf(ctx context.Context) (Key, bool) {
	k, ok := ctx.Value(userKey{}).(Key)
	if !ok || !strings.HasPrefix(k.Name, "user:") {
		return Key{}, false
	}
	if _, known := parseRole(string(k.Role)); !known {
		return Key{}, false
	}
	return k, true
}
