package api

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

func TestHashKey(t *testing.T) {
	// sha256("abc"), FIPS 180-2 appendix B.1.
	if got, want := HashKey("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("HashKey(abc) = %s, want %s", got, want)
	}
}

func TestParseKeys(t *testing.T) {
	h1, h2 := HashKey("one"), HashKey("two")
	good := []struct {
		in   string
		want []Key
	}{
		{"a:agent:" + h1, []Key{{"a", RoleAgent, h1}}},
		{"a:agent:" + h1 + ",b:admin:" + strings.ToUpper(h2), []Key{{"a", RoleAgent, h1}, {"b", RoleAdmin, h2}}},
		{"# staff keys\n a : analyst : " + h1 + " \n\n,\nb.2_x-y:admin:" + h2 + "\n", []Key{{"a", RoleAnalyst, h1}, {"b.2_x-y", RoleAdmin, h2}}},
	}
	for _, tt := range good {
		got, err := ParseKeys(tt.in)
		if err != nil || len(got) != len(tt.want) {
			t.Errorf("ParseKeys(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("ParseKeys(%q)[%d] = %v, want %v", tt.in, i, got[i], tt.want[i])
			}
		}
	}
	const secret = "s3cr3t-pasted-by-mistake"
	bad := []struct {
		in, want string
	}{
		{"", "no entries"},
		{"# only a comment", "no entries"},
		{"a:agent", "entry 1: want name:role:sha256hex, got 2 field(s)"},
		{secret, "entry 1: want name:role:sha256hex, got 1 field(s)"},
		{"a:agent:" + h1 + ",b:agent:" + secret, `entry 2: key "b": hash must be 64 hex digits`},
		{"a:agent:" + strings.Repeat("g", 64), `entry 1: key "a": hash must be 64 hex digits`},
		{"a:root:" + h1, `entry 1: key "a": role must be agent, analyst or admin`},
		{"a b:agent:" + h1, "entry 1: name must be"},
		{":agent:" + h1, "entry 1: name must be"},
		{"a:agent:" + h1 + "\na:admin:" + h2, `key "a" appears twice`},
		{"a:agent:" + h1 + "\nb:admin:" + h1, `keys "a" and "b" have the same secret`},
	}
	for _, tt := range bad {
		_, err := ParseKeys(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseKeys(%q) = %v, want an error with %q", tt.in, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), h1) || strings.Contains(err.Error(), strings.Repeat("g", 64)) {
			t.Errorf("ParseKeys(%q) error echoes the secret or hash: %v", tt.in, err)
		}
	}
}

// fakeSSM is a parameter store in memory.
type fakeSSM struct {
	params map[string]string
	calls  int
}

func (f *fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.calls++
	if in.WithDecryption == nil || !*in.WithDecryption {
		return nil, errors.New("fakeSSM: SecureString read without decryption")
	}
	v, ok := f.params[aws.ToString(in.Name)]
	if !ok {
		return nil, &types.ParameterNotFound{Message: aws.String("not found")}
	}
	return &ssm.GetParameterOutput{Parameter: &types.Parameter{Name: in.Name, Value: aws.String(v), Type: types.ParameterTypeSecureString}}, nil
}

func TestLoadKeys(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "keys")
	if err := os.WriteFile(file, []byte("# desk\nfile-key:agent:"+HashKey("f")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store := &fakeSSM{params: map[string]string{"/telcolake/api-keys": "ssm-key:analyst:" + HashKey("s")}}
	ctx := context.Background()
	tests := []struct {
		name  string
		env   map[string]string
		names []string // of the keys, in order
		err   string
	}{
		{"inline", map[string]string{EnvKeys: "in-key:admin:" + HashKey("i")}, []string{"in-key"}, ""},
		{"file", map[string]string{EnvKeysFile: file}, []string{"file-key"}, ""},
		{"ssm", map[string]string{EnvKeysSSM: "/telcolake/api-keys"}, []string{"ssm-key"}, ""},
		{"all three", map[string]string{EnvKeys: "in-key:admin:" + HashKey("i"), EnvKeysFile: file, EnvKeysSSM: "/telcolake/api-keys"},
			[]string{"in-key", "file-key", "ssm-key"}, ""},
		{"none", map[string]string{}, nil, "set TELCOLAKE_API_KEYS, TELCOLAKE_API_KEYS_FILE or TELCOLAKE_API_KEYS_SSM"},
		{"bad inline", map[string]string{EnvKeys: "x"}, nil, "TELCOLAKE_API_KEYS: api keys: entry 1"},
		{"missing file", map[string]string{EnvKeysFile: filepath.Join(dir, "nope")}, nil, "TELCOLAKE_API_KEYS_FILE"},
		{"missing parameter", map[string]string{EnvKeysSSM: "/nope"}, nil, "TELCOLAKE_API_KEYS_SSM: get parameter /nope"},
		{"same name twice", map[string]string{EnvKeys: "file-key:admin:" + HashKey("i"), EnvKeysFile: file}, nil, `key "file-key" appears twice`},
	}
	for _, tt := range tests {
		keys, err := LoadKeys(ctx, func(k string) string { return tt.env[k] }, store)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("LoadKeys(%s) = %v, want an error with %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("LoadKeys(%s): %v", tt.name, err)
			continue
		}
		var names []string
		for _, k := range keys {
			names = append(names, k.Name)
		}
		if strings.Join(names, ",") != strings.Join(tt.names, ",") {
			t.Errorf("LoadKeys(%s) = %v, want %v", tt.name, names, tt.names)
		}
	}
}

// TestLoadedKeysServe: a key loaded from the environment opens the API.
func TestLoadedKeysServe(t *testing.T) {
	keys, err := LoadKeys(context.Background(), func(k string) string {
		if k == EnvKeys {
			return "bi:analyst:" + HashKey("let-me-in")
		}
		return ""
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	meta, cs := genSnapshot(1, 10, false)
	s, err := newServer(meta, cs, nil, Config{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{s: s}
	if resp := f.do(t, event("GET", "/v1/customers", "Authorization", "Bearer let-me-in")); resp.StatusCode != 200 {
		t.Errorf("loaded key: %d %s", resp.StatusCode, resp.Body)
	}
}
