package web

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/telcolake/telcolake/api"
)

// User is a staff member who may sign in to the console.
type User struct {
	Name string
	Role api.Role
	hash []byte // bcrypt
}

// Users is the local users file: one user a line, "name role bcrypt-hash";
// blank lines and lines starting with # are skipped.
type Users struct {
	byName map[string]User
}

// bcryptCost is the cost of new password hashes.
const bcryptCost = 11

// MinPasswordLen is the shortest password AddUser accepts.
const MinPasswordLen = 10

// dummyHash is compared against when a name is unknown, so a sign-in takes
// as long whether or not the name exists.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("telcolake: no such user"), bcryptCost)
	return h
})

// validName: 1-64 of a-z 0-9 . _ - (no personal data is needed in a name).
func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ParseUsers reads a users file's content.
func ParseUsers(b []byte) (*Users, error) {
	u := &Users{byName: map[string]User{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("web: users line %d: want name, role and hash", n)
		}
		role, ok := api.ParseRole(f[1])
		if !validName(f[0]) || !ok {
			return nil, fmt.Errorf("web: users line %d: bad name or role (roles: agent, analyst, admin)", n)
		}
		if _, err := bcrypt.Cost([]byte(f[2])); err != nil {
			return nil, fmt.Errorf("web: users line %d: hash: %w", n, err)
		}
		if _, dup := u.byName[f[0]]; dup {
			return nil, fmt.Errorf("web: users line %d: %s appears twice", n, f[0])
		}
		u.byName[f[0]] = User{Name: f[0], Role: role, hash: []byte(f[2])}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("web: users: %w", err)
	}
	return u, nil
}

// LoadUsers reads a users file.
func LoadUsers(path string) (*Users, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("web: users: %w", err)
	}
	return ParseUsers(b)
}

// Len is the number of users.
func (u *Users) Len() int { return len(u.byName) }

// Check returns the user if name and password match.
func (u *Users) Check(name, password string) (User, bool) {
	usr, ok := u.byName[name]
	hash := usr.hash
	if !ok {
		hash = dummyHash()
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	return usr, ok && err == nil
}

// lookup returns a user by name (for a session: the role is the file's
// current one).
func (u *Users) lookup(name string) (User, bool) {
	usr, ok := u.byName[name]
	return usr, ok
}

// NewUser hashes a new user's password (after the same checks as AddUser).
func NewUser(name string, role api.Role, password string) (User, error) {
	if !validName(name) {
		return User{}, errors.New("web: user name must be 1-64 of a-z 0-9 . _ -")
	}
	if _, ok := api.ParseRole(string(role)); !ok {
		return User{}, fmt.Errorf("web: role must be agent, analyst or admin")
	}
	if len(password) < MinPasswordLen || len(password) > 72 {
		return User{}, fmt.Errorf("web: password must be %d-72 bytes", MinPasswordLen)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return User{}, fmt.Errorf("web: hash password: %w", err)
	}
	return User{Name: name, Role: role, hash: hash}, nil
}

// AddUser adds name with role and password to the users file at path
// (created if missing), replacing a user of the same name. The file is
// written to a temporary file and renamed, mode 0600.
func AddUser(path, name string, role api.Role, password string) error {
	u, err := NewUser(name, role, password)
	if err != nil {
		return err
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("web: users: %w", err)
	}
	if _, err := ParseUsers(old); err != nil {
		return err
	}
	hash := u.hash
	var out bytes.Buffer
	for _, line := range strings.Split(string(old), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name || strings.TrimSpace(line) == "" {
			continue
		}
		out.WriteString(line + "\n")
	}
	fmt.Fprintf(&out, "%s %s %s\n", name, role, hash)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".users-*")
	if err != nil {
		return fmt.Errorf("web: users: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("web: users: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("web: users: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("web: users: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("web: users: %w", err)
	}
	return nil
}
