package producer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/source"
	"github.com/invitepipe/invitepipe/internal/source/csv"
	"github.com/invitepipe/invitepipe/internal/source/ndjson"
	"github.com/invitepipe/invitepipe/internal/source/postgresql"
)

// Spec is an activation's source block, interpreted.
type Spec struct {
	Type       string // csv, ndjson or postgresql
	Path       string // csv, ndjson: a file, a glob or "-", relative to the activation file
	Query      string // postgresql
	DSNEnv     string // postgresql: the variable holding the connection string
	PrimaryKey string // the column that identifies a row; default mapping.reference_number
	Mode       string // diff or cursor
	// Cursor is cursor mode's column and look-back (cursor_column, cursor_lookback); the
	// zero Cursor in diff mode.
	Cursor Cursor
}

var sourceKeys = []string{"type", "path", "query", "dsn_env", "primary_key", "mode", "cursor_column", "cursor_lookback"}

// ParseSpec reads a's source block. Every problem is reported with its path in the file,
// e.g. "activations.orders.source.path: required for a csv source".
func ParseSpec(a *activation.Activation) (Spec, error) {
	at := "activations." + a.ID + ".source"
	var problems []string
	add := func(key, format string, args ...any) {
		problems = append(problems, at+"."+key+": "+fmt.Sprintf(format, args...))
	}
	str := func(key string) string {
		v, ok := a.Source[key]
		if !ok || v == nil {
			return ""
		}
		s, ok := v.(string)
		if !ok {
			add(key, "must be a string")
		}
		return strings.TrimSpace(s)
	}
	var unknown []string
	for k := range a.Source {
		if !slices.Contains(sourceKeys, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		add(k, "unknown key (known: %s)", strings.Join(sourceKeys, ", "))
	}
	s := Spec{Type: str("type"), Path: str("path"), Query: str("query"), DSNEnv: str("dsn_env"), PrimaryKey: str("primary_key"), Mode: str("mode")}
	switch s.Type {
	case "csv", "ndjson":
		if s.Path == "" {
			add("path", "required for a %s source", s.Type)
		}
		if s.Query != "" || s.DSNEnv != "" {
			add("query", "query and dsn_env are for a postgresql source only")
		}
	case "postgresql":
		if s.Query == "" {
			add("query", "required for a postgresql source")
		}
		if s.DSNEnv == "" {
			add("dsn_env", "required for a postgresql source: the name of the variable holding the connection string")
		}
		if s.Path != "" {
			add("path", "is for a csv or ndjson source only")
		}
	default:
		add("type", "%q is not a source type (use csv, ndjson or postgresql)", s.Type)
	}
	switch s.Mode {
	case "", "diff":
		s.Mode = "diff"
	case "cursor":
		column := str("cursor_column")
		if column == "" {
			add("cursor_column", "required in cursor mode: the column whose value only grows, e.g. created_at or id")
		}
		c, problem := parseLookback(a.Source["cursor_lookback"])
		if problem != "" {
			add("cursor_lookback", "%s", problem)
		}
		c.Column = column
		s.Cursor = c
	default:
		add("mode", "%q is not a mode (use diff or cursor)", s.Mode)
	}
	if s.Mode != "cursor" {
		for _, k := range []string{"cursor_column", "cursor_lookback"} {
			if _, ok := a.Source[k]; ok {
				add(k, "is for mode: cursor only")
			}
		}
	}
	if s.PrimaryKey == "" {
		s.PrimaryKey = a.Mapping.ReferenceNumber
	}
	if s.PrimaryKey == "" {
		add("primary_key", "required when mapping.reference_number is not set")
	}
	if len(problems) > 0 {
		return Spec{}, errors.New(strings.Join(problems, "\n"))
	}
	return s, nil
}

// String describes s in one line, e.g. "csv data/orders.csv, diff on order_id" or
// "postgresql (connection string in $SHOP_DSN), cursor on created_at with look-back 10m".
func (s Spec) String() string {
	where := s.Path
	if s.Type == "postgresql" {
		where = "(connection string in $" + s.DSNEnv + ")"
	}
	mode := "diff on " + s.PrimaryKey
	if c := s.Cursor; c.On() {
		lookback := c.Lookback.String()
		if c.Kind == CursorInt {
			lookback = strconv.FormatInt(c.LookbackCount, 10) + " rows"
		}
		mode = fmt.Sprintf("cursor on %s with look-back %s, keys %s", c.Column, lookback, s.PrimaryKey)
	}
	return s.Type + " " + where + ", " + mode
}

// Job is the run of activation id over src, the Source that Open built.
func (s Spec) Job(id string, src source.Source) Job {
	return Job{Activation: id, PrimaryKey: s.PrimaryKey, Cursor: s.Cursor, Source: src}
}

// Open builds the Source of s. dir is the activation file's directory (relative paths
// start there), lookup reads the environment and stdin is read for the path "-".
func (s Spec) Open(dir string, lookup func(string) (string, bool), stdin io.Reader) (source.Source, error) {
	switch s.Type {
	case "csv", "ndjson":
		paths, err := source.Paths(s.Path, dir)
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		if s.Type == "csv" {
			return csv.New(paths, stdin), nil
		}
		return ndjson.New(paths, stdin), nil
	case "postgresql":
		if lookup == nil {
			lookup = os.LookupEnv
		}
		dsn, ok := lookup(s.DSNEnv)
		if !ok || strings.TrimSpace(dsn) == "" {
			return nil, fmt.Errorf("source: %s (source.dsn_env) is not set: set it to the database's connection string", s.DSNEnv)
		}
		if s.Cursor.On() {
			return postgresql.NewCursor(dsn, s.DSNEnv, s.Query, s.Cursor.Column), nil
		}
		return postgresql.New(dsn, s.DSNEnv, s.Query), nil
	}
	return nil, fmt.Errorf("source: %q is not a source type", s.Type)
}
