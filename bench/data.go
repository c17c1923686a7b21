package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// dataset describes the CSV both tools read.
type dataset struct {
	Subs    int
	Months  int
	Files   int   // monthly CDR files concatenated
	Rows    int64 // data rows, header excluded
	Bytes   int64
	GenWall time.Duration
}

// prepareData generates the exports and concatenates the monthly CDR files
// into WORK/landing/<cdrKey>.
func (b *bench) prepareData(ctx context.Context) (dataset, error) {
	d := dataset{Subs: b.opts.subs, Months: b.opts.months}
	gen := filepath.Join(b.work, "gen")
	if err := resetDirs(gen); err != nil {
		return d, err
	}
	log.Printf("generating %d subscribers × %d months", d.Subs, d.Months)
	start := time.Now()
	// -mess=false: no planted bad rows or duplicate deliveries, so every
	// row must be ingested and DuckDB's sniffer sees a clean file.
	cmd := exec.CommandContext(ctx, b.telcolake, "gen",
		"-subs", strconv.Itoa(d.Subs), "-months", strconv.Itoa(d.Months),
		"-cdr-span", "month", "-mess=false", "-out", gen)
	if out, err := cmd.CombinedOutput(); err != nil {
		return d, fmt.Errorf("telcolake gen: %w\n%s", err, out)
	}
	d.GenWall = time.Since(start)
	files, err := cdrFiles(filepath.Join(gen, "exports", "cdr"))
	if err != nil {
		return d, err
	}
	d.Files = len(files)
	b.csv = filepath.Join(b.work, "landing", filepath.FromSlash(cdrKey))
	if d.Rows, d.Bytes, err = concatCSV(b.csv, files); err != nil {
		return d, err
	}
	log.Printf("%s: %d files, %d rows, %.1f MB", b.csv, d.Files, d.Rows, float64(d.Bytes)/1e6)
	return d, b.dropUnlessKept(gen)
}

// cdrFiles lists the CSV files under dir in name order.
func cdrFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".csv") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list CDR files: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no CDR files under %s", dir)
	}
	sort.Strings(files)
	return files, nil
}

// concatCSV writes the files to dst with the header of the first one only,
// and returns the number of data rows and the bytes written. All headers
// must be equal.
func concatCSV(dst string, files []string) (rows, size int64, err error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, 0, fmt.Errorf("create landing dir: %w", err)
	}
	f, err := os.Create(dst)
	if err != nil {
		return 0, 0, fmt.Errorf("create %s: %w", dst, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", dst, cerr)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	w := &lineCounter{w: bw}
	var header string
	for i, src := range files {
		h, err := appendBody(w, src, i == 0)
		if err != nil {
			return 0, 0, err
		}
		if i == 0 {
			header = h
		} else if h != header {
			return 0, 0, fmt.Errorf("%s: header %q differs from %q", src, h, header)
		}
	}
	if err := bw.Flush(); err != nil {
		return 0, 0, fmt.Errorf("write %s: %w", dst, err)
	}
	return w.lines - 1, w.bytes, nil // the header line is not a row
}

// appendBody copies src to w, with its header line only if withHeader, and
// ends it with a newline. It returns the header line.
func appendBody(w io.Writer, src string, withHeader bool) (string, error) {
	f, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", src, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	header, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read header of %s: %w", src, err)
	}
	if withHeader {
		if _, err := io.WriteString(w, header); err != nil {
			return "", fmt.Errorf("write header: %w", err)
		}
	}
	last := &lastByte{w: w, b: '\n'}
	if _, err := io.Copy(last, r); err != nil {
		return "", fmt.Errorf("copy %s: %w", src, err)
	}
	if last.b != '\n' {
		if _, err := io.WriteString(w, "\n"); err != nil {
			return "", fmt.Errorf("write newline: %w", err)
		}
	}
	return strings.TrimRight(header, "\r\n"), nil
}

// lineCounter counts the bytes and newlines written through it.
type lineCounter struct {
	w     io.Writer
	lines int64
	bytes int64
}

func (c *lineCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.lines += int64(bytes.Count(p[:n], []byte{'\n'}))
	c.bytes += int64(n)
	return n, err
}

// lastByte remembers the last byte written through it.
type lastByte struct {
	w io.Writer
	b byte
}

func (l *lastByte) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if n > 0 {
		l.b = p[n-1]
	}
	return n, err
}
