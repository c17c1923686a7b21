package lake

import (
	"errors"
	"strings"
	"testing"
)

func TestFromEnv(t *testing.T) {
	valid := map[string]string{
		EnvWarehouse:     "s3://lake/warehouse",
		EnvCatalog:       "sqlite:///tmp/catalog.db",
		EnvLandingBucket: "landing",
		EnvPseudonymKey:  "0123456789abcdef",
		EnvRegion:        "eu-central-1",
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range valid {
			m[a] = b
		}
		if v == "<unset>" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string // "" = valid
		wantMsg string
	}{
		{"valid", valid, "", ""},
		{"valid postgres and endpoint", with(EnvCatalog, "postgres://u@localhost/cat"), "", ""},
		{"warehouse missing", with(EnvWarehouse, "<unset>"), EnvWarehouse, "not set"},
		{"warehouse not a location", with(EnvWarehouse, "lake/warehouse"), EnvWarehouse, "not an s3://"},
		{"warehouse without bucket", with(EnvWarehouse, "s3:///x"), EnvWarehouse, "not an s3://"},
		{"catalog missing", with(EnvCatalog, "<unset>"), EnvCatalog, "not set"},
		{"catalog glue", with(EnvCatalog, "glue"), "", ""},
		{"catalog glue://crm", with(EnvCatalog, "glue://crm"), "", ""},
		{"catalog glue:// other database", with(EnvCatalog, "glue://analytics"), EnvCatalog, `namespace "crm"`},
		{"catalog rest", with(EnvCatalog, "rest+https://cat.example"), EnvCatalog, "not supported yet"},
		{"catalog unknown", with(EnvCatalog, "mysql://x"), EnvCatalog, "not a supported catalog"},
		{"catalog sqlite without path", with(EnvCatalog, "sqlite://"), EnvCatalog, "names no database file"},
		{"landing missing", with(EnvLandingBucket, "<unset>"), EnvLandingBucket, "not set"},
		{"threshold not a number", with(EnvRejectThreshold, "five"), EnvRejectThreshold, "between 0 and 1"},
		{"threshold above 1", with(EnvRejectThreshold, "5"), EnvRejectThreshold, "between 0 and 1"},
		{"key too short", with(EnvPseudonymKey, "short"), EnvPseudonymKey, "at least 16"},
		{"region missing", with(EnvRegion, "<unset>"), EnvRegion, "not set"},
		{"endpoint not a URL", with(EnvEndpointURL, "localhost:4566"), EnvEndpointURL, "not an http(s) URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := FromEnv(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if tc.wantVar == "" {
				if err != nil {
					t.Fatalf("FromEnv = %v, want no error", err)
				}
				if cfg.RejectThreshold != DefaultRejectThreshold {
					t.Errorf("RejectThreshold = %v, want default %v", cfg.RejectThreshold, DefaultRejectThreshold)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Var != tc.wantVar {
				t.Fatalf("FromEnv = %v, want a ConfigError naming %s", err, tc.wantVar)
			}
			if !strings.Contains(err.Error(), tc.wantVar) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q should name %s and say %q", err, tc.wantVar, tc.wantMsg)
			}
		})
	}
}
