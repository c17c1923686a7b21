package groups_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/telcolake/telcolake/groups"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
)

type store interface {
	Save(context.Context, groups.Group) error
	Delete(context.Context, string) error
	List(context.Context) ([]groups.Group, error)
}

// TestLakeRoundTrip: groups saved in crm.customer_groups are there,
// exactly, through a second connection to the same lake (a restart), and
// a deleted one is gone for both.
func TestLakeRoundTrip(t *testing.T) {
	ctx := context.Background()
	l := laketest.New(t)
	checkStore(t, groups.LakeStore{Tables: l.Cat}, func() store {
		cat, err := lake.OpenCatalog(ctx, l.Cfg) // another process opening the lake
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cat.Close() })
		return groups.LakeStore{Tables: cat}
	})
}

func TestMemStore(t *testing.T) {
	m := &groups.MemStore{}
	checkStore(t, m, func() store { return m })
}

func checkStore(t *testing.T, st store, reopen func() store) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	want := []groups.Group{
		{ID: groups.NewID(t0), Name: "Heavy roamers in the North", Owner: "ana", Shared: true,
			Conditions: "region=North&roaming_min=5", CreatedAt: t0},
		{ID: groups.NewID(t0.Add(time.Minute)), Name: "Zoë's à-la-carte, 50% ≥", Owner: "bo", Shared: false,
			Conditions: "not.plan=BASIC,MAX40&churn_min=0.5", CreatedAt: t0.Add(time.Minute)},
		{ID: groups.NewID(t0.Add(2 * time.Minute)), Name: "to delete", Owner: "ana", Conditions: "status=active", CreatedAt: t0.Add(2 * time.Minute)},
	}
	for _, g := range want {
		if !strings.HasPrefix(g.ID, "grp-20261201T10") {
			t.Fatalf("NewID = %s", g.ID)
		}
		if err := st.Save(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	again := reopen()
	got, err := again.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("List after reopening:\n got %+v\nwant %+v", got, want)
	}
	if err := again.Delete(ctx, want[2].ID); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, want[2].ID); !errors.Is(err, groups.ErrNotFound) {
		t.Errorf("Delete of a deleted group: %v, want ErrNotFound", err)
	}
	got, err = st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want[:2]) {
		t.Errorf("List after Delete:\n got %+v\nwant %+v", got, want[:2])
	}
}
