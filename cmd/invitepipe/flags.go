package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/invitepipe/invitepipe/internal/config"
)

// newFlagSet returns a flag set for a command whose --help prints usage, the flags with
// their defaults, and the INVITEPIPE_* variables of spec with theirs.
func newFlagSet(name, usage string, spec any, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("invitepipe "+name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: invitepipe %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
		fmt.Fprintln(stdout, "\nEnvironment:")
		config.Usage(stdout, spec)
	}
	return fs
}

// parseFlags parses args; a flag error has already been printed with the usage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return fmt.Errorf("%w (see --help)", err)
	}
	if err == nil && fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	return err
}
