package infra

import (
	"debug/elf"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// runtimeLibs are the shared libraries provided.al2023 has (glibc's);
// a dynamic bootstrap may need no other.
var runtimeLibs = []string{"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "ld-linux-aarch64.so.1"}

// CheckBinary checks that the executable at path runs on Lambda arm64 with
// a C library of version maxGlibc (like "2.34"): an aarch64 ELF that is
// static, or dynamic needing only glibc's libraries and no GLIBC_ symbol
// version newer than maxGlibc.
func CheckBinary(path, maxGlibc string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 {
		return fmt.Errorf("check %s: machine %v (%v), want %v for Lambda %s", path, f.Machine, f.Class, elf.EM_AARCH64, Architecture)
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if len(libs) == 0 && f.Section(".interp") == nil {
		return nil // static
	}
	for _, l := range libs {
		if !slices.Contains(runtimeLibs, l) {
			return fmt.Errorf("check %s: needs %s, which %s does not have", path, l, Runtime)
		}
	}
	versions, err := GlibcVersions(f)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	limit, err := parseVersion(maxGlibc)
	if err != nil {
		return err
	}
	for _, v := range versions {
		n, err := parseVersion(strings.TrimPrefix(v, "GLIBC_"))
		if err != nil {
			return fmt.Errorf("check %s: %w", path, err)
		}
		if compareVersions(n, limit) > 0 {
			return fmt.Errorf("check %s: needs %s, newer than %s's glibc %s", path, v, Runtime, maxGlibc)
		}
	}
	return nil
}

// GlibcVersions lists the distinct GLIBC_x.y symbol versions an ELF file's
// imported symbols need, sorted.
func GlibcVersions(f *elf.File) ([]string, error) {
	syms, err := f.ImportedSymbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, err
	}
	var out []string
	for _, s := range syms {
		if strings.HasPrefix(s.Version, "GLIBC_") && !slices.Contains(out, s.Version) {
			out = append(out, s.Version)
		}
	}
	slices.Sort(out)
	return out, nil
}

func parseVersion(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("version %q: not numbers separated by dots", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func compareVersions(a, b []int) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return x - y
		}
	}
	return 0
}
