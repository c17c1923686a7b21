package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/web"
)

// defaultUsersFile is where the local console's users live.
const defaultUsersFile = ".localdata/console-users"

// runUsers manages the console's local users file: 'users add NAME ROLE'.
func runUsers(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("users", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", defaultUsersFile, "users `file` (created if missing, mode 0600)")
	password := fs.String("password", "", "the password (for scripts; otherwise the first line of stdin)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: telcolake users add [flags] NAME ROLE\n\nAdds a staff member who may sign in to the console (or replaces one of the same\nname). ROLE is agent, analyst or admin. The password (at least %d bytes) is read\nfrom the first line of stdin unless -password is given; only its bcrypt hash is stored.\n\nflags:\n", web.MinPasswordLen)
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] != "add" {
		fs.Usage()
		return errors.New("users: the only subcommand is add")
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("users: %w", err)
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errors.New("users add: want NAME and ROLE")
	}
	name, role := fs.Arg(0), api.Role(fs.Arg(1))
	pw := *password
	if pw == "" {
		line, err := bufio.NewReader(io.LimitReader(stdin, 1024)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("users add: read password: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if err := os.MkdirAll(dirOf(*file), 0o700); err != nil {
		return fmt.Errorf("users add: %w", err)
	}
	if err := web.AddUser(*file, name, role, pw); err != nil {
		return fmt.Errorf("users add: %w", err)
	}
	fmt.Fprintf(stdout, "user %s (%s) written to %s\n", name, role, *file)
	return nil
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		return path[:i]
	}
	return "."
}
