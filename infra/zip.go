package infra

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// zipTime is every entry's modification time: the same bytes build the
// same zip.
var zipTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ZipBootstrap writes a Lambda package to dst: one entry, bootstrap, with
// the bytes of the file bin, mode 0755 and a fixed time.
func ZipBootstrap(dst, bin string) error {
	in, err := os.Open(bin)
	if err != nil {
		return fmt.Errorf("infra: zip: %w", err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("infra: zip: %w", err)
	}
	tmp := dst + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("infra: zip: %w", err)
	}
	defer os.Remove(tmp) // after the rename: a no-op
	zw := zip.NewWriter(out)
	h := &zip.FileHeader{Name: Handler, Method: zip.Deflate, Modified: zipTime}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err == nil {
		_, err = io.Copy(w, in)
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("infra: zip %s: %w", dst, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("infra: zip: %w", err)
	}
	return nil
}

// Unzip extracts the bootstrap of a Lambda package to dst, mode 0755,
// and refuses a package whose only entry is not an executable bootstrap.
func Unzip(zipPath, dst string) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("infra: unzip: %w", err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != Handler || zr.File[0].Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("infra: %s: want one executable entry %q", zipPath, Handler)
	}
	r, err := zr.File[0].Open()
	if err != nil {
		return fmt.Errorf("infra: unzip %s: %w", zipPath, err)
	}
	defer r.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("infra: unzip: %w", err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return fmt.Errorf("infra: unzip: %w", err)
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return fmt.Errorf("infra: unzip %s: %w", zipPath, err)
	}
	return out.Close()
}
