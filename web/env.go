package web

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// The console's environment variables (the api function's).
const (
	// EnvUsers holds the users inline: comma-separated name:role:bcrypt-hash
	// entries (the template's ConsoleUsers parameter). Empty, with
	// EnvUsersFile empty too: no console.
	EnvUsers = "TELCOLAKE_CONSOLE_USERS"
	// EnvUsersFile is the path of a users file ('telcolake users add').
	EnvUsersFile = "TELCOLAKE_CONSOLE_USERS_FILE"
	// EnvKey is the session key, at least 64 hex digits (32 bytes).
	EnvKey = "TELCOLAKE_CONSOLE_KEY"
	// EnvOIDCIssuer turns on sign-in at an OpenID Connect provider's hosted
	// page (the template sets Cognito's user pool issuer), with
	// EnvOIDCClientID, EnvOIDCRedirect and optionally EnvOIDCClientSecret,
	// EnvOIDCLogout (the provider's logout page) and EnvOIDCAfterLogout.
	EnvOIDCIssuer       = "TELCOLAKE_CONSOLE_OIDC_ISSUER"
	EnvOIDCClientID     = "TELCOLAKE_CONSOLE_OIDC_CLIENT_ID"
	EnvOIDCClientSecret = "TELCOLAKE_CONSOLE_OIDC_CLIENT_SECRET"
	EnvOIDCRedirect     = "TELCOLAKE_CONSOLE_OIDC_REDIRECT_URL"
	EnvOIDCLogout       = "TELCOLAKE_CONSOLE_OIDC_LOGOUT_URL"
	EnvOIDCAfterLogout  = "TELCOLAKE_CONSOLE_OIDC_AFTER_LOGOUT_URL"
)

// WithConsole returns apiHandler with the console at /console/ if the
// environment configures one (EnvUsers, EnvUsersFile or EnvOIDCIssuer, and
// EnvKey), or
// apiHandler alone, and whether the console is on.
// Stores, when given, are the console's reads of the lake beyond the API:
// Config.Models and Config.Landing.
func WithConsole(getenv func(string) string, apiHandler http.Handler, log *slog.Logger, stores ...Stores) (http.Handler, bool, error) {
	inline, file := strings.TrimSpace(getenv(EnvUsers)), getenv(EnvUsersFile)
	issuer := strings.TrimSpace(getenv(EnvOIDCIssuer))
	if inline == "" && file == "" && issuer == "" {
		return apiHandler, false, nil
	}
	var users *Users
	var err error
	switch {
	case file != "":
		users, err = LoadUsers(file)
	case inline != "":
		users, err = ParseUsers([]byte(strings.NewReplacer(",", "\n", ":", " ").Replace(inline)))
	}
	if err != nil {
		return nil, false, err
	}
	var sso *OIDC
	if issuer != "" {
		sso = &OIDC{Issuer: issuer, ClientID: getenv(EnvOIDCClientID), ClientSecret: getenv(EnvOIDCClientSecret),
			RedirectURL: getenv(EnvOIDCRedirect), LogoutURL: getenv(EnvOIDCLogout), AfterLogout: getenv(EnvOIDCAfterLogout)}
		if sso.ClientID == "" || sso.RedirectURL == "" {
			return nil, false, fmt.Errorf("web: %s needs %s and %s", EnvOIDCIssuer, EnvOIDCClientID, EnvOIDCRedirect)
		}
	}
	key, err := hex.DecodeString(strings.TrimSpace(getenv(EnvKey)))
	if err != nil || len(key) < 32 {
		return nil, false, fmt.Errorf("web: %s must be at least 64 hex digits", EnvKey)
	}
	cfg := Config{API: apiHandler, Users: users, Key: key, Log: log, OIDC: sso}
	for _, st := range stores {
		cfg.Models, cfg.Landing, cfg.Revoked = st.Models, st.Landing, st.Revoked
	}
	c, err := New(cfg)
	if err != nil {
		return nil, false, err
	}
	mux := http.NewServeMux()
	mux.Handle("/console/", c)
	mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusSeeOther))
	mux.Handle("/", apiHandler)
	return mux, true, nil
}

// Entry is the user as one entry of EnvUsers (name:role:hash).
func (u User) Entry() string { return u.Name + ":" + string(u.Role) + ":" + string(u.hash) }

// Entries are the users as EnvUsers holds them.
func (u *Users) Entries() string {
	var out []string
	for _, usr := range u.byName {
		out = append(out, usr.Entry())
	}
	return strings.Join(out, ",")
}

// Stores are the console's stores (see Config).
type Stores struct {
	Models, Landing Files
	Revoked         Revocations
}

// BucketFiles reads keys of one bucket with get (lake.S3Store's Get),
// at most 8 MiB each.
func BucketFiles(get func(ctx context.Context, bucket, key, etag string) (io.ReadCloser, error), bucket string) Files {
	return bucketFiles{get, bucket}
}

type bucketFiles struct {
	get    func(ctx context.Context, bucket, key, etag string) (io.ReadCloser, error)
	bucket string
}

func (b bucketFiles) Get(ctx context.Context, key string) ([]byte, error) {
	rc, err := b.get(ctx, b.bucket, key, "")
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, 8<<20+1))
	if err != nil {
		return nil, fmt.Errorf("web: read %s: %w", key, err)
	}
	if len(body) > 8<<20 {
		return nil, fmt.Errorf("web: %s is larger than 8 MiB", key)
	}
	return body, nil
}
