// Package groups keeps saved customer groups: a name, an owner, whether
// it is shared, and a set of /v1/customers conditions in canonical
// query-string form (the api validates them exactly like a query before
// a group is saved). LakeStore keeps them in the Iceberg table
// crm.customer_groups, so they survive restarts and redeploys; MemStore
// is for tests and local tools.
package groups

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/lake"
)

// Group is a saved customer group.
type Group struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Owner      string    `json:"owner"`
	Shared     bool      `json:"shared"`
	Conditions string    `json:"conditions"` // canonical query string
	CreatedAt  time.Time `json:"created_at"`
}

// ErrNotFound means no group has the id.
var ErrNotFound = errors.New("groups: no such group")

// NewID returns a fresh group id: the time and 32 random bits.
func NewID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "grp-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// LakeStore keeps groups in crm.customer_groups.
type LakeStore struct {
	Tables lake.TableLoader
}

// Save writes g (a new id, or replaces the group of that id) in one
// commit.
func (s LakeStore) Save(ctx context.Context, g Group) error {
	b, err := lake.NewRowBuilder(lake.CustomerGroupsTable, 1)
	if err != nil {
		return err
	}
	defer b.Release()
	b.String("group_id", g.ID)
	b.String("name", g.Name)
	b.String("owner", g.Owner)
	b.Bool("shared", g.Shared)
	b.String("conditions", g.Conditions)
	b.Time("created_at", g.CreatedAt)
	rec := b.Record()
	defer rec.Release()
	if _, err := lake.ReplaceRows(ctx, s.Tables, lake.CustomerGroupsTable, byID(g.ID), []arrow.RecordBatch{rec},
		iceberg.Properties{"telcolake.group": g.ID}); err != nil {
		return fmt.Errorf("groups: save %s: %w", g.ID, err)
	}
	return nil
}

// Delete removes the group of id (ErrNotFound if there is none).
func (s LakeStore) Delete(ctx context.Context, id string) error {
	all, err := s.List(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(all, func(g Group) bool { return g.ID == id }) {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if _, err := lake.ReplaceRows(ctx, s.Tables, lake.CustomerGroupsTable, byID(id), nil,
		iceberg.Properties{"telcolake.group": id, "telcolake.group.deleted": "true"}); err != nil {
		return fmt.Errorf("groups: delete %s: %w", id, err)
	}
	return nil
}

func byID(id string) iceberg.BooleanExpression {
	return iceberg.EqualTo(iceberg.Reference("group_id"), id)
}

// List returns every group, oldest first (ties by id).
func (s LakeStore) List(ctx context.Context) ([]Group, error) {
	at, err := lake.ReadTable(ctx, s.Tables, lake.CustomerGroupsTable)
	if err != nil {
		return nil, fmt.Errorf("groups: %w", err)
	}
	defer at.Release()
	tr := array.NewTableReader(at, 1024)
	defer tr.Release()
	var out []Group
	for tr.Next() {
		rec := tr.RecordBatch()
		col := func(name string) arrow.Array {
			if idx := rec.Schema().FieldIndices(name); len(idx) > 0 {
				return rec.Column(idx[0])
			}
			return nil
		}
		ids, names, owners, conds := col("group_id"), col("name"), col("owner"), col("conditions")
		shared, created := col("shared"), col("created_at")
		str := func(a arrow.Array, i int) (string, bool) {
			s, ok := a.(*array.String)
			if !ok || s.IsNull(i) {
				return "", false
			}
			return s.Value(i), true
		}
		for i := range int(rec.NumRows()) {
			var g Group
			var ok [4]bool
			g.ID, ok[0] = str(ids, i)
			g.Name, ok[1] = str(names, i)
			g.Owner, ok[2] = str(owners, i)
			g.Conditions, ok[3] = str(conds, i)
			sh, okS := shared.(*array.Boolean)
			ts, okT := created.(*array.Timestamp)
			if ok != [4]bool{true, true, true, true} || !okS || !okT {
				return nil, fmt.Errorf("groups: crm.customer_groups row %d is not a group", i)
			}
			g.Shared = sh.Value(i)
			g.CreatedAt = time.UnixMicro(int64(ts.Value(i))).UTC()
			out = append(out, g)
		}
	}
	if err := tr.Err(); err != nil {
		return nil, fmt.Errorf("groups: read crm.customer_groups: %w", err)
	}
	sortGroups(out)
	return out, nil
}

func sortGroups(gs []Group) {
	slices.SortFunc(gs, func(a, b Group) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
}

// MemStore keeps groups in memory.
type MemStore struct {
	mu sync.Mutex
	gs map[string]Group
}

// Save stores g.
func (m *MemStore) Save(_ context.Context, g Group) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gs == nil {
		m.gs = map[string]Group{}
	}
	m.gs[g.ID] = g
	return nil
}

// Delete removes the group of id.
func (m *MemStore) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.gs[id]; !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	delete(m.gs, id)
	return nil
}

// List returns every group, oldest first.
func (m *MemStore) List(context.Context) ([]Group, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Group, 0, len(m.gs))
	for _, g := range m.gs {
		out = append(out, g)
	}
	sortGroups(out)
	return out, nil
}
