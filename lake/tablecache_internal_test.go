package lake

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The cached catalog parses a table once per metadata version: loading it
// again returns the same table until a commit (here through another
// catalog, as another process would) moves the pointer; then the new
// version, and a table that does not exist is still an error.
func TestCachedCatalogFollowsCommits(t *testing.T) {
	ctx := context.Background()
	cfg, other := testCatalog(t)
	if err := EnsureTables(ctx, other, cfg.Warehouse); err != nil {
		t.Fatal(err)
	}
	cat, err := NewCatalog(ctx, cfg, aws.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	first, err := cat.LoadTable(ctx, CDRTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	again, err := cat.LoadTable(ctx, CDRTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Errorf("second load parsed the metadata again (%s)", again.MetadataLocation())
	}

	tbl, err := other.LoadTable(ctx, CDRTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	tx := tbl.NewTransaction()
	if err := tx.SetProperties(map[string]string{"telcolake.test": "moved"}); err != nil {
		t.Fatal(err)
	}
	moved, err := tx.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cat.LoadTable(ctx, CDRTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	if got.MetadataLocation() != moved.MetadataLocation() || got.Properties()["telcolake.test"] != "moved" {
		t.Errorf("after a commit elsewhere: loaded %s, want %s", got.MetadataLocation(), moved.MetadataLocation())
	}
	if first.Properties()["telcolake.test"] != "" {
		t.Error("the table loaded before the commit changed")
	}
	if _, err := cat.LoadTable(ctx, []string{Namespace, "no_such_table"}); err == nil {
		t.Error("loading a table that does not exist: no error")
	}
}
