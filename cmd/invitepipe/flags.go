package main

import (
	"encoding"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

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

// bindFlags defines the flag of each variable of spec that has one (config.Var.Flag),
// set to the variable's value, so a flag given on the command line wins over the
// environment. Call it after config.Read.
func bindFlags(fs *flag.FlagSet, spec any) error {
	for _, v := range config.Vars(spec) {
		if v.Flag == "" {
			continue
		}
		usage := v.Desc + " (env " + v.Name + ")"
		switch p := v.Field.(type) {
		case *string:
			fs.StringVar(p, v.Flag, *p, usage)
		case *bool:
			fs.BoolVar(p, v.Flag, *p, usage)
		case *int:
			fs.IntVar(p, v.Flag, *p, usage)
		case *time.Duration:
			fs.DurationVar(p, v.Flag, *p, usage)
		case listValue:
			fs.Var(&listFlag{list: p}, v.Flag, usage)
		case textValue:
			fs.TextVar(p, v.Flag, p, usage)
		default:
			return fmt.Errorf("%s: no flag for a %T", v.Name, v.Field)
		}
	}
	return nil
}

// listValue is a config.List or config.Strings.
type listValue interface {
	Decode(string) error
	String() string
}

// textValue is a value with a text form, such as a sandbox.RateWindow.
type textValue interface {
	encoding.TextMarshaler
	encoding.TextUnmarshaler
}

// listFlag is a list flag: each value may hold several, comma-separated; the first
// value on the command line replaces the list from the environment, later ones add to it.
type listFlag struct {
	list  listValue
	given []string // the values on the command line so far
}

func (l *listFlag) Set(s string) error {
	l.given = append(l.given, s)
	return l.list.Decode(strings.Join(l.given, ","))
}

func (l *listFlag) String() string {
	if l == nil || l.list == nil {
		return ""
	}
	return l.list.String()
}
