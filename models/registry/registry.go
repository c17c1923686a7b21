// Package registry keeps model versions as files under the lake's models/
// location (models/<kind>/<version>/…) and which version of each kind is
// promoted: the one scoring uses (models/<kind>/promoted.json).
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/telcolake/telcolake/lake"
)

// Model kinds.
const (
	KindChurn   = "churn"
	KindSegment = "segment"
	KindUplift  = "uplift"
	// KindBadDebt is the bad-debt classifier (training.trainBadDebt).
	KindBadDebt = "bad-debt"
)

// ModelFile is the artifact's file name inside a version's directory.
const ModelFile = "model.json"

// Store reads and writes whole files by key.
type Store interface {
	Put(ctx context.Context, key string, body []byte) error
	Get(ctx context.Context, key string) ([]byte, error) // lake.ErrNotFound when missing
	URI(key string) string
}

// Registry is the model store.
type Registry struct {
	Store Store
}

// Pointer names the promoted version of a kind.
type Pointer struct {
	Kind       string    `json:"kind"`
	Version    string    `json:"version"`
	Artifact   string    `json:"artifact"` // URI of model.json
	AUC        float64   `json:"auc,omitempty"`
	PromotedAt time.Time `json:"promoted_at"`
}

// NewVersion names a version by its creation time, sortable.
func NewVersion(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// Key of a file of a version.
func Key(kind, version, file string) string { return path.Join(kind, version, file) }

// Save writes a version's files (the artifact as ModelFile, reports, charts)
// and returns the artifact's URI.
func (r *Registry) Save(ctx context.Context, kind, version string, model any, extra map[string][]byte) (string, error) {
	body, err := json.MarshalIndent(model, "", " ")
	if err != nil {
		return "", fmt.Errorf("registry: encode %s %s: %w", kind, version, err)
	}
	for name, b := range extra {
		if err := r.Store.Put(ctx, Key(kind, version, name), b); err != nil {
			return "", fmt.Errorf("registry: save %s %s: %w", kind, version, err)
		}
	}
	// The artifact last: a version with a model.json is complete.
	if err := r.Store.Put(ctx, Key(kind, version, ModelFile), body); err != nil {
		return "", fmt.Errorf("registry: save %s %s: %w", kind, version, err)
	}
	return r.Store.URI(Key(kind, version, ModelFile)), nil
}

// Load decodes a version's artifact into model.
func (r *Registry) Load(ctx context.Context, kind, version string, model any) error {
	body, err := r.Store.Get(ctx, Key(kind, version, ModelFile))
	if err != nil {
		return fmt.Errorf("registry: load %s %s: %w", kind, version, err)
	}
	if err := json.Unmarshal(body, model); err != nil {
		return fmt.Errorf("registry: decode %s %s: %w", kind, version, err)
	}
	return nil
}

// Promote makes p's version the one scoring uses.
func (r *Registry) Promote(ctx context.Context, p Pointer) error {
	body, err := json.MarshalIndent(p, "", " ")
	if err != nil {
		return err
	}
	if err := r.Store.Put(ctx, path.Join(p.Kind, "promoted.json"), body); err != nil {
		return fmt.Errorf("registry: promote %s %s: %w", p.Kind, p.Version, err)
	}
	return nil
}

// Promoted returns the promoted version of kind; ok is false when none is.
func (r *Registry) Promoted(ctx context.Context, kind string) (p Pointer, ok bool, err error) {
	body, err := r.Store.Get(ctx, path.Join(kind, "promoted.json"))
	if errors.Is(err, lake.ErrNotFound) {
		return Pointer{}, false, nil
	}
	if err != nil {
		return Pointer{}, false, fmt.Errorf("registry: promoted %s: %w", kind, err)
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Pointer{}, false, fmt.Errorf("registry: promoted %s: %w", kind, err)
	}
	return p, true, nil
}

// LoadPromoted decodes the promoted version of kind into model.
func (r *Registry) LoadPromoted(ctx context.Context, kind string, model any) (Pointer, bool, error) {
	p, ok, err := r.Promoted(ctx, kind)
	if err != nil || !ok {
		return p, ok, err
	}
	return p, true, r.Load(ctx, kind, p.Version, model)
}
