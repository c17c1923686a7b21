package lake

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
)

// removeFiles deletes every file of an abandoned attempt, however many
// (several lanes' chunks here), also when the attempt's context is
// cancelled already, and reports the files it could not delete without
// stopping at them.
func TestRemoveFilesDeletesEveryFile(t *testing.T) {
	ctx := context.Background()
	_, cat, _ := newInternalLake(t)
	tbl, err := cat.LoadTable(ctx, CDRTable.Ident())
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wfs := fsys.(iceio.WriteFileIO)
	n := 3*removeLanes*removeChunk + 5
	var files []iceberg.DataFile
	for i := range n {
		path := fmt.Sprintf("%s/data/abandoned/%05d.parquet", tbl.Location(), i)
		if err := wfs.WriteFile(path, []byte("x")); err != nil {
			t.Fatal(err)
		}
		files = append(files, pathOnly{path: path})
	}
	missing := fmt.Sprintf("%s/data/abandoned/never-written.parquet", tbl.Location())
	files = append(files[:n/2], append([]iceberg.DataFile{pathOnly{path: missing}}, files[n/2:]...)...)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	err = removeFiles(cancelled, tbl, files)
	if err == nil || !strings.Contains(err.Error(), "never-written") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removeFiles = %v, want the missing file's error", err)
	}
	dir := strings.TrimPrefix(tbl.Location(), "file://") + "/data/abandoned"
	left, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("%d of %d files left after removeFiles", len(left), n)
	}
}
