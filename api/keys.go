package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// The environment variables LoadKeys reads. Each holds key entries in the
// ParseKeys format; at least one must be set, and the keys of all that are
// set are combined.
const (
	EnvKeys     = "TELCOLAKE_API_KEYS"      // the entries inline
	EnvKeysFile = "TELCOLAKE_API_KEYS_FILE" // path of a file holding the entries
	EnvKeysSSM  = "TELCOLAKE_API_KEYS_SSM"  // name of an SSM parameter (SecureString) holding the entries
)

// Key is an API key as the server stores it: a name (logged in the audit
// line), a role and the SHA-256 of the secret. The secret itself is never
// stored.
type Key struct {
	Name string
	Role Role
	Hash string // sha256 of the secret, 64 lowercase hex digits
}

// HashKey returns the SHA-256 of a secret in lowercase hex: what a key
// entry stores.
func HashKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ParseKeys parses key entries "name:role:sha256hex", separated by commas
// or newlines. Blank entries and lines starting with # are skipped. Names
// are 1–64 letters, digits, '.', '_' or '-'; roles are agent, analyst or
// admin; the hash is HashKey of the secret. Errors name the entry by its
// position (and name, once that is valid) but never repeat its hash part,
// in case a secret was pasted there by mistake.
func ParseKeys(s string) ([]Key, error) {
	var keys []Key
	n := 0
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, entry := range strings.Split(line, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			n++
			k, err := parseKey(entry)
			if err != nil {
				return nil, fmt.Errorf("api keys: entry %d: %w", n, err)
			}
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("api keys: no entries (want name:role:sha256hex, separated by commas or newlines)")
	}
	if err := checkKeys(keys); err != nil {
		return nil, fmt.Errorf("api keys: %w", err)
	}
	return keys, nil
}

func parseKey(entry string) (Key, error) {
	parts := strings.Split(entry, ":")
	if len(parts) != 3 {
		return Key{}, fmt.Errorf("want name:role:sha256hex, got %d field(s)", len(parts))
	}
	name, role, hash := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]), strings.TrimSpace(parts[2])
	if !validKeyName(name) {
		return Key{}, errors.New("name must be 1-64 letters, digits, '.', '_' or '-'")
	}
	r, ok := parseRole(role)
	if !ok {
		return Key{}, fmt.Errorf("key %q: role must be agent, analyst or admin", name)
	}
	if len(hash) != 64 {
		return Key{}, fmt.Errorf("key %q: hash must be 64 hex digits, the sha256 of the secret (never the secret itself)", name)
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return Key{}, fmt.Errorf("key %q: hash must be 64 hex digits, the sha256 of the secret (never the secret itself)", name)
	}
	return Key{Name: name, Role: r, Hash: strings.ToLower(hash)}, nil
}

func validKeyName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// checkKeys rejects keys New could not use: invalid fields, two keys with
// one name, or one secret under two names.
func checkKeys(keys []Key) error {
	names := map[string]bool{}
	hashes := map[string]string{}
	for _, k := range keys {
		if !validKeyName(k.Name) {
			return errors.New("a key name must be 1-64 letters, digits, '.', '_' or '-'")
		}
		if _, ok := parseRole(string(k.Role)); !ok {
			return fmt.Errorf("key %q: role must be agent, analyst or admin", k.Name)
		}
		h := strings.ToLower(k.Hash)
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("key %q: hash must be 64 hex digits", k.Name)
		}
		if names[k.Name] {
			return fmt.Errorf("key %q appears twice", k.Name)
		}
		names[k.Name] = true
		if other, ok := hashes[h]; ok {
			return fmt.Errorf("keys %q and %q have the same secret", other, k.Name)
		}
		hashes[h] = k.Name
	}
	return nil
}

// ParameterGetter reads an SSM parameter; *ssm.Client is one.
type ParameterGetter interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// LoadKeys reads the keys from the environment. Supported sources, all in
// the ParseKeys format and combined when several are set (at least one must
// be):
//
//   - TELCOLAKE_API_KEYS: the entries inline;
//   - TELCOLAKE_API_KEYS_FILE: the path of a file holding them;
//   - TELCOLAKE_API_KEYS_SSM: the name of an SSM Parameter Store parameter
//     (SecureString, read with decryption) holding them. params reads it;
//     nil means an SSM client from the default AWS configuration.
func LoadKeys(ctx context.Context, getenv func(string) string, params ParameterGetter) ([]Key, error) {
	var all []Key
	set := false
	if v := getenv(EnvKeys); v != "" {
		set = true
		keys, err := ParseKeys(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvKeys, err)
		}
		all = append(all, keys...)
	}
	if p := getenv(EnvKeysFile); p != "" {
		set = true
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvKeysFile, err)
		}
		keys, err := ParseKeys(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", EnvKeysFile, p, err)
		}
		all = append(all, keys...)
	}
	if name := getenv(EnvKeysSSM); name != "" {
		set = true
		if params == nil {
			cfg, err := config.LoadDefaultConfig(ctx)
			if err != nil {
				return nil, fmt.Errorf("%s: aws config: %w", EnvKeysSSM, err)
			}
			params = ssm.NewFromConfig(cfg)
		}
		out, err := params.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("%s: get parameter %s: %w", EnvKeysSSM, name, err)
		}
		if out.Parameter == nil || out.Parameter.Value == nil {
			return nil, fmt.Errorf("%s: parameter %s has no value", EnvKeysSSM, name)
		}
		keys, err := ParseKeys(*out.Parameter.Value)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", EnvKeysSSM, name, err)
		}
		all = append(all, keys...)
	}
	if !set {
		return nil, fmt.Errorf("api keys: set %s, %s or %s", EnvKeys, EnvKeysFile, EnvKeysSSM)
	}
	if err := checkKeys(all); err != nil {
		return nil, fmt.Errorf("api keys: %w", err)
	}
	return all, nil
}

// keyring checks presented secrets against the stored hashes.
type keyring struct {
	keys   []Key
	hashes [][sha256.Size]byte
}

func newKeyring(keys []Key) (*keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	if err := checkKeys(keys); err != nil {
		return nil, err
	}
	kr := &keyring{keys: keys, hashes: make([][sha256.Size]byte, len(keys))}
	for i, k := range keys {
		b, _ := hex.DecodeString(strings.ToLower(k.Hash))
		copy(kr.hashes[i][:], b)
	}
	return kr, nil
}

// match returns the key whose hash is the secret's. Every stored hash is
// compared in constant time, whichever matches.
func (kr *keyring) match(secret string) (Key, bool) {
	sum := sha256.Sum256([]byte(secret))
	found := -1
	for i := range kr.hashes {
		if subtle.ConstantTimeCompare(sum[:], kr.hashes[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Key{}, false
	}
	return kr.keys[found], true
}
