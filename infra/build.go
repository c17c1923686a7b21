package infra

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// What the template deploys: the Lambda runtime, architecture and handler
// every package is built for.
const (
	Runtime      = "provided.al2023"
	Architecture = "arm64"
	Handler      = "bootstrap"
	// RuntimeGlibc is the C library version of provided.al2023.
	RuntimeGlibc = "2.34"
)

// Cross compilers for cgo functions (Debian's gcc-aarch64-linux-gnu and
// g++-aarch64-linux-gnu).
const (
	CrossCC  = "aarch64-linux-gnu-gcc"
	CrossCXX = "aarch64-linux-gnu-g++"
)

// Package is one function's Lambda package.
type Package struct {
	Function  string // functions/<Function>
	Zip       string // <out>/<Function>.zip
	Bootstrap string // <out>/<Function>/bootstrap, the zipped executable
	// Cgo names the non-standard packages with cgo in the function's
	// import graph; non-empty means a static cross-compiled build.
	Cgo            []string
	BootstrapBytes int64
	ZipBytes       int64
}

// BuildOptions configure Build.
type BuildOptions struct {
	Repo string // the module root (functions/ lives there)
	Out  string // where the zips go, e.g. dist
	// Functions to build; default every directory under functions/.
	Functions []string
	// Log receives one line per package built (nil: none).
	Log io.Writer
}

// Functions lists the function names under repo/functions.
func Functions(repo string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(repo, "functions"))
	if err != nil {
		return nil, fmt.Errorf("infra: list functions: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Build builds a Lambda package for every function of opt and checks each
// bootstrap with CheckBinary.
func Build(ctx context.Context, opt BuildOptions) ([]Package, error) {
	names := opt.Functions
	if len(names) == 0 {
		var err error
		if names, err = Functions(opt.Repo); err != nil {
			return nil, err
		}
	}
	var out []Package
	for _, name := range names {
		p, err := buildOne(ctx, opt.Repo, opt.Out, name)
		if err != nil {
			return nil, err
		}
		if opt.Log != nil {
			how := "pure Go"
			if len(p.Cgo) > 0 {
				how = "cgo, static"
			}
			fmt.Fprintf(opt.Log, "%s: bootstrap %.1f MB, zip %.1f MB (linux/%s, %s)\n",
				p.Zip, float64(p.BootstrapBytes)/1e6, float64(p.ZipBytes)/1e6, Architecture, how)
		}
		out = append(out, p)
	}
	return out, nil
}

func buildOne(ctx context.Context, repo, outDir, name string) (Package, error) {
	src := "./" + filepath.ToSlash(filepath.Join("functions", name))
	cgo, err := CgoDeps(ctx, repo, src)
	if err != nil {
		return Package{}, err
	}
	out, err := filepath.Abs(outDir)
	if err != nil {
		return Package{}, fmt.Errorf("infra: %w", err)
	}
	p := Package{Function: name, Cgo: cgo,
		Zip: filepath.Join(out, name+".zip"), Bootstrap: filepath.Join(out, name, "bootstrap")}
	env := append(os.Environ(), "GOOS=linux", "GOARCH="+Architecture)
	tags := "lambda.norpc"
	ldflags := "-s -w"
	if len(cgo) == 0 {
		env = append(env, "CGO_ENABLED=0")
	} else {
		// Static: nothing is taken from the runtime's glibc. netgo and
		// osusergo keep name resolution and user look-ups in Go (static
		// glibc's would need its NSS modules at run time).
		env = append(env, "CGO_ENABLED=1", "CC="+CrossCC, "CXX="+CrossCXX)
		tags += ",netgo,osusergo"
		ldflags += " -linkmode external -extldflags -static"
		for _, tool := range []string{CrossCC, CrossCXX} {
			if _, err := exec.LookPath(tool); err != nil {
				return p, fmt.Errorf("infra: %s needs cgo (%s) and %s is not installed (Debian: apt-get install gcc-aarch64-linux-gnu g++-aarch64-linux-gnu)",
					name, strings.Join(cgo, ", "), tool)
			}
		}
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", tags, "-trimpath", "-ldflags", ldflags, "-o", p.Bootstrap, src)
	cmd.Dir, cmd.Env = repo, env
	if b, err := cmd.CombinedOutput(); err != nil {
		return p, fmt.Errorf("infra: build %s: %v\n%s", name, err, b)
	}
	if err := CheckBinary(p.Bootstrap, RuntimeGlibc); err != nil {
		return p, fmt.Errorf("infra: %s: %w", name, err)
	}
	if err := ZipBootstrap(p.Zip, p.Bootstrap); err != nil {
		return p, err
	}
	for _, f := range []struct {
		path string
		n    *int64
	}{{p.Bootstrap, &p.BootstrapBytes}, {p.Zip, &p.ZipBytes}} {
		st, err := os.Stat(f.path)
		if err != nil {
			return p, fmt.Errorf("infra: %w", err)
		}
		*f.n = st.Size()
	}
	return p, nil
}

// CgoDeps lists the non-standard packages with cgo files in the import
// graph of pkg (a path relative to repo, like ./functions/api) when built
// for linux/arm64 with cgo on. The standard library's cgo files (net,
// os/user, runtime/cgo) have pure-Go fallbacks and are not listed.
func CgoDeps(ctx context.Context, repo, pkg string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-deps",
		"-f", "{{if and .CgoFiles (not .Standard)}}{{.ImportPath}}{{end}}", pkg)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+Architecture, "CGO_ENABLED=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("infra: go list %s: %v: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out, nil
}
