// Package lake is telcolake's storage layer: configuration, the Iceberg
// catalog and object storage, the table schemas of namespace crm, and the
// exactly-once ingestion of source exports into those tables.
package lake

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Environment variables read by FromEnv. The same names are used locally and in AWS.
const (
	EnvWarehouse       = "TELCOLAKE_WAREHOUSE"
	EnvCatalog         = "TELCOLAKE_CATALOG"
	EnvLandingBucket   = "TELCOLAKE_LANDING_BUCKET"
	EnvRejectThreshold = "TELCOLAKE_REJECT_THRESHOLD"
	EnvPseudonymKey    = "TELCOLAKE_PSEUDONYM_KEY"
	EnvRegion          = "AWS_REGION"
	EnvEndpointURL     = "AWS_ENDPOINT_URL"
	// EnvIngestQueueURL is the ingest queue's URL, where the ingest
	// function sends again the notifications of files a batch did not
	// start (optional: without it they are failures the queue redelivers).
	EnvIngestQueueURL = "TELCOLAKE_INGEST_QUEUE_URL"
)

// DefaultRejectThreshold is the share of rejected rows above which a file is
// quarantined whole.
const DefaultRejectThreshold = 0.05

// Config is the validated configuration of the lake.
type Config struct {
	// Warehouse is the Iceberg warehouse location: s3://bucket/prefix, or
	// file:///path for local runs and benchmarks.
	Warehouse string
	// Catalog is the catalog URI: sqlite:///path/catalog.db, postgres://…,
	// or glue (AWS Glue Data Catalog, database crm; glue://crm says the same).
	Catalog string
	// LandingBucket is the bucket source systems drop exports into.
	LandingBucket string
	// RejectThreshold is the share of rejected rows (0..1) above which a file
	// is quarantined.
	RejectThreshold float64
	// PseudonymKey keys the hash that replaces phone numbers of other parties.
	PseudonymKey []byte
	// Region is the AWS region; required when anything lives in S3.
	Region string
	// EndpointURL overrides the S3 endpoint (LocalStack, the embedded stack).
	EndpointURL string
	// IngestQueueURL is the ingest queue (EnvIngestQueueURL), "" without.
	IngestQueueURL string
}

// ConfigError names the environment variable that is missing or malformed.
type ConfigError struct {
	Var    string
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("config: %s %s", e.Var, e.Reason)
}

// FromEnv reads the configuration through lookup (os.LookupEnv in mains, a
// map in tests). Every error names the variable at fault.
func FromEnv(lookup func(string) (string, bool)) (Config, error) {
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	c := Config{
		Warehouse:       strings.TrimRight(get(EnvWarehouse), "/"),
		Catalog:         get(EnvCatalog),
		LandingBucket:   get(EnvLandingBucket),
		RejectThreshold: DefaultRejectThreshold,
		PseudonymKey:    []byte(get(EnvPseudonymKey)),
		Region:          get(EnvRegion),
		EndpointURL:     get(EnvEndpointURL),
		IngestQueueURL:  get(EnvIngestQueueURL),
	}
	if c.Warehouse == "" {
		return c, &ConfigError{EnvWarehouse, "is not set (e.g. s3://lake/warehouse or file:///tmp/warehouse)"}
	}
	u, err := url.Parse(c.Warehouse)
	if err != nil || (u.Scheme != "s3" && u.Scheme != "file") || (u.Scheme == "s3" && u.Host == "") || (u.Scheme == "file" && u.Path == "") {
		return c, &ConfigError{EnvWarehouse, fmt.Sprintf("= %q is not an s3://bucket/prefix or file:///path location", c.Warehouse)}
	}
	if c.Catalog == "" {
		return c, &ConfigError{EnvCatalog, "is not set (e.g. glue, sqlite:///path/catalog.db or postgres://user@host/db)"}
	}
	if _, err := parseCatalogURI(c.Catalog); err != nil {
		return c, &ConfigError{EnvCatalog, err.Error()}
	}
	if c.LandingBucket == "" {
		return c, &ConfigError{EnvLandingBucket, "is not set (the bucket source systems drop exports into)"}
	}
	if v := get(EnvRejectThreshold); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return c, &ConfigError{EnvRejectThreshold, fmt.Sprintf("= %q is not a share between 0 and 1 (e.g. 0.05)", v)}
		}
		c.RejectThreshold = f
	}
	if len(c.PseudonymKey) < 16 {
		return c, &ConfigError{EnvPseudonymKey, "must be set to a secret of at least 16 characters (it keys the hash of other parties' numbers)"}
	}
	if c.Region == "" {
		return c, &ConfigError{EnvRegion, "is not set (e.g. eu-central-1; any region for a local stack)"}
	}
	if c.EndpointURL != "" {
		if u, err := url.Parse(c.EndpointURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, &ConfigError{EnvEndpointURL, fmt.Sprintf("= %q is not an http(s) URL", c.EndpointURL)}
		}
	}
	return c, nil
}

// catalogURI is a parsed TELCOLAKE_CATALOG.
type catalogURI struct {
	kind string // "sqlite", "postgres" or "glue"
	dsn  string // what database/sql.Open takes; empty for glue
}

func parseCatalogURI(s string) (catalogURI, error) {
	switch {
	case strings.HasPrefix(s, "sqlite://"):
		p := strings.TrimPrefix(s, "sqlite://")
		if p == "" || p == "/" {
			return catalogURI{}, fmt.Errorf("= %q names no database file (e.g. sqlite:///var/telcolake/catalog.db)", s)
		}
		return catalogURI{kind: "sqlite", dsn: p}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return catalogURI{kind: "postgres", dsn: s}, nil
	case s == "glue", strings.HasPrefix(s, "glue://"):
		// The Glue database is the Iceberg namespace, which the table
		// definitions fix (Namespace); glue://crm is accepted as a spelling of it.
		if db := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(s, "glue"), "://"), "/"); db != "" && db != Namespace {
			return catalogURI{}, fmt.Errorf("= %q: the Glue database is the lake's namespace %q (use glue or glue://%s)", s, Namespace, Namespace)
		}
		return catalogURI{kind: "glue"}, nil
	case strings.HasPrefix(s, "rest+"):
		return catalogURI{}, fmt.Errorf("= %q: REST catalogs are not supported yet; use glue, sqlite:///path or postgres://…", s)
	default:
		return catalogURI{}, fmt.Errorf("= %q is not a supported catalog (glue, sqlite:///path or postgres://…)", s)
	}
}
