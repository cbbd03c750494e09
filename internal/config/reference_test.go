package config

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md from the configuration structs")

// referencePath is docs/configuration.md, from this package's directory.
var referencePath = filepath.Join("..", "..", "docs", "configuration.md")

const regenerate = "go test ./internal/config -run TestConfigReference -update"

// referenceCommands are the commands that read INVITEPIPE_* variables, in the order of
// `invitepipe --help`, with the structs they load.
var referenceCommands = []struct {
	name  string
	note  string // what the section adds to the struct's variables; may be empty
	specs []any
}{
	{"produce", "`INVITEPIPE_ADMIN_ADDR` is read in schedule mode only (without `--once`).", []any{&Producer{}, &Admin{}}},
	{"consume", "", []any{&Consumer{}}},
	{"sandbox", "Each variable has a flag, which wins over it.", []any{&Sandbox{}}},
	{"demo", "The demo sets the Kafka, Redis and Trustpilot addresses, topics and group itself (embedded parts, or those its flags name); the rest applies as in production.", []any{&Demo{}}},
	{"check", "", []any{&Check{}}},
	{"replay", "", []any{&Replay{}}},
	{"dlq", "", []any{&DLQ{}}},
}

// writeReference renders docs/configuration.md.
func writeReference(w io.Writer) {
	fmt.Fprintln(w, "# Configuration reference")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "<!-- Generated from the configuration structs of internal/config: do not edit.\n     Regenerate with: %s -->\n\n", regenerate)
	fmt.Fprintln(w, "Every command reads its settings from `INVITEPIPE_*` environment variables, only under")
	fmt.Fprintln(w, "these full names. An invalid value stops the command at start with the variable's name and")
	fmt.Fprintln(w, "the fix. `invitepipe <command> --help` lists the same variables. Durations are Go")
	fmt.Fprintln(w, "durations (`30s`, `2m`, `9600h`); lists are comma-separated.")
	fmt.Fprintln(w)
	for _, c := range referenceCommands {
		fmt.Fprintf(w, "- [`invitepipe %s`](#invitepipe-%s)\n", c.name, c.name)
	}
	for _, c := range referenceCommands {
		fmt.Fprintf(w, "\n## invitepipe %s\n\n", c.name)
		if c.note != "" {
			fmt.Fprintf(w, "%s\n\n", c.note)
		}
		fmt.Fprintln(w, "| variable | default | meaning |")
		fmt.Fprintln(w, "|---|---|---|")
		for _, spec := range c.specs {
			for _, v := range Vars(spec) {
				meaning := v.Desc
				if v.Flag != "" {
					meaning += " (flag `--" + v.Flag + "`)"
				}
				fmt.Fprintf(w, "| `%s` | %s | %s |\n", v.Name, code(v.Default), strings.ReplaceAll(meaning, "|", `\|`))
			}
		}
	}
}

// code writes s as inline code; "" stays empty.
func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

// TestConfigReference fails when docs/configuration.md is not what the configuration
// structs render; -update rewrites it.
func TestConfigReference(t *testing.T) {
	var b bytes.Buffer
	writeReference(&b)
	if *update {
		if err := os.WriteFile(referencePath, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatalf("%v: generate it with `%s`", err, regenerate)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Fatalf("docs/configuration.md is stale (first difference: %s): regenerate it with `%s`", firstDiff(string(got), b.String()), regenerate)
	}
}

// firstDiff names the first line where the file differs from what it should be.
func firstDiff(file, want string) string {
	fl, wl := strings.Split(file, "\n"), strings.Split(want, "\n")
	for i := range max(len(fl), len(wl)) {
		var f, w string
		if i < len(fl) {
			f = fl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if f != w {
			return fmt.Sprintf("line %d is %q, want %q", i+1, f, w)
		}
	}
	return "none"
}

// TestReferenceCoversEveryVariable checks that every variable has a meaning, and that
// every struct a command loads is in the reference.
func TestReferenceCoversEveryVariable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range referenceCommands {
		for _, spec := range c.specs {
			for _, v := range Vars(spec) {
				seen[v.Name] = true
				if v.Desc == "" || !strings.HasPrefix(v.Name, "INVITEPIPE_") {
					t.Errorf("%s (invitepipe %s): want an INVITEPIPE_ name and a desc tag", v.Name, c.name)
				}
			}
		}
	}
	for _, section := range []any{&Common{}, &Kafka{}, &Redis{}, &Trustpilot{}, &Admin{}, &Delivery{}, &Processing{}, &Production{}, &Sandbox{}} {
		for _, v := range Vars(section) {
			if !seen[v.Name] {
				t.Errorf("%s is in no command of the reference", v.Name)
			}
		}
	}
}
