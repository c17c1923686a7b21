package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// machine describes the host the benchmark ran on.
type machine struct {
	CPUs      int
	CPUModel  string
	MemKiB    int64
	GoVersion string
	OS        string
}

// readMachine reads the host description from /proc and the Go runtime.
func readMachine() (machine, error) {
	m := machine{
		CPUs:      runtime.NumCPU(),
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS + "/" + runtime.GOARCH,
	}
	model, err := procField("/proc/cpuinfo", "model name")
	if err != nil {
		return m, err
	}
	m.CPUModel = model
	mem, err := procField("/proc/meminfo", "MemTotal")
	if err != nil {
		return m, err
	}
	kib, err := strconv.ParseInt(strings.TrimSuffix(mem, " kB"), 10, 64)
	if err != nil {
		return m, fmt.Errorf("parse MemTotal %q: %w", mem, err)
	}
	m.MemKiB = kib
	return m, nil
}

// procField returns the value of the first "key : value" line of a /proc
// file whose key is key.
func procField(path, key string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read machine info: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return "", fmt.Errorf("%s: no %q line", path, key)
}
