package main

import (
	"io/fs"
	"path/filepath"
	"strings"
)

// lakeFiles counts the files of the lake directory by kind: what S3
// requests a stage would make is estimated from them (report.go, the
// projection), since the file warehouse here has no requests to count.
type lakeFiles struct {
	Data  int   // Parquet data files (read by byte range: footer, then column chunks)
	Meta  int   // Iceberg metadata: table metadata JSON, manifest lists, manifests
	Other int   // the rest: model and serving stores, ledger side files, the catalog
	Bytes int64 // all of them
}

// countLake walks dir; a file that vanishes during the walk (an expiry, a
// temporary file) is skipped.
func countLake(dir string) lakeFiles {
	var n lakeFiles
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		n.Bytes += fi.Size()
		switch {
		case strings.HasSuffix(path, ".parquet"):
			n.Data++
		case strings.Contains(filepath.ToSlash(path), "/metadata/"):
			n.Meta++
		default:
			n.Other++
		}
		return nil
	})
	return n
}

// minus is what n holds beyond m (never negative: an expiry that removed
// files counts as none added).
func (n lakeFiles) minus(m lakeFiles) lakeFiles {
	return lakeFiles{Data: max(0, n.Data-m.Data), Meta: max(0, n.Meta-m.Meta), Other: max(0, n.Other-m.Other), Bytes: max(0, n.Bytes-m.Bytes)}
}

// Files is all the files counted.
func (n lakeFiles) Files() int { return n.Data + n.Meta + n.Other }
