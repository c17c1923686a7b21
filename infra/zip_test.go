package infra

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestZipBootstrapDeterministic(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bootstrap")
	body := bytes.Repeat([]byte("\x7fELF pretend binary "), 1000)
	if err := os.WriteFile(bin, body, 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(dir, "a.zip"), filepath.Join(dir, "b.zip")
	if err := ZipBootstrap(a, bin); err != nil {
		t.Fatal(err)
	}
	// A later mtime on the input must not change the zip.
	if err := os.Chtimes(bin, time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := ZipBootstrap(b, bin); err != nil {
		t.Fatal(err)
	}
	za, _ := os.ReadFile(a)
	zb, _ := os.ReadFile(b)
	if !bytes.Equal(za, zb) {
		t.Errorf("two zips of the same bootstrap differ")
	}
	zr, err := zip.OpenReader(a)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 {
		t.Fatalf("%d entries, want 1", len(zr.File))
	}
	f := zr.File[0]
	if f.Name != "bootstrap" || f.Mode().Perm() != 0o755 || !f.Modified.Equal(zipTime) {
		t.Errorf("entry %s mode %v time %v, want bootstrap 0755 %v", f.Name, f.Mode(), f.Modified, zipTime)
	}
	out := filepath.Join(dir, "x", "bootstrap")
	if err := Unzip(a, out); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	st, _ := os.Stat(out)
	if !bytes.Equal(got, body) || st.Mode().Perm() != 0o755 {
		t.Errorf("unzipped %d bytes mode %v, want %d bytes 0755", len(got), st.Mode(), len(body))
	}
}

func TestUnzipRefusesOtherPackages(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "p.zip")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("main")
	w.Write([]byte("x"))
	zw.Close()
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Unzip(p, filepath.Join(dir, "bootstrap")); err == nil {
		t.Errorf("Unzip of a package without bootstrap succeeded")
	}
}
