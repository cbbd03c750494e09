package source

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Record is one unit of a source's input: a row, or the reason a line is not one.
type Record struct {
	// Row is the row's columns; nil when Err is set.
	Row map[string]any
	// Where locates the record in the input, e.g. "orders.csv:12"; empty when the source
	// has no positions (a query).
	Where string
	// Err says why the record is not a row; it names the position. Such a record is
	// counted and skipped by the producer, never emitted.
	Err error
}

// Source streams the records of one input.
type Source interface {
	// Read calls yield with each record in input order. It stops at the first error that
	// yield returns and returns it; it returns an error of its own only when the input
	// as a whole fails (it cannot be opened, the query fails, the context ends).
	Read(ctx context.Context, yield func(Record) error) error
}

// Stdin is the path that names standard input.
const Stdin = "-"

// Paths expands a file source's path: "-" stays as is (standard input); a path with glob
// metacharacters gives the files it matches, in lexical order, and an error when it
// matches none; any other path is returned as is (opening it reports when it is missing).
// A relative path is taken from dir (the activation file's directory).
func Paths(path, dir string) ([]string, error) {
	if path == Stdin {
		return []string{Stdin}, nil
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	if !hasMeta(path) {
		return []string{path}, nil
	}
	matches, err := filepath.Glob(path)
	if err != nil {
		return nil, fmt.Errorf("path %s: %w", path, err)
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("path %s matches no file", path)
	}
	return matches, nil
}

func hasMeta(path string) bool {
	for _, c := range path {
		switch c {
		case '*', '?', '[', '\\':
			return true
		}
	}
	return false
}

// Open opens one path from Paths for reading, standard input (from stdin) for "-". The
// returned reader skips a leading UTF-8 byte order mark; close it when done.
func Open(path string, stdin io.Reader) (io.Reader, func() error, error) {
	var r io.Reader
	closer := func() error { return nil }
	if path == Stdin {
		if stdin == nil {
			return nil, nil, errors.New("no standard input")
		}
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		r, closer = f, f.Close
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if bom, err := br.Peek(3); err == nil && string(bom) == "\ufeff" {
		br.Discard(3)
	}
	return br, closer, nil
}

// Name is how errors name a path: "stdin" for "-", else the path.
func Name(path string) string {
	if path == Stdin {
		return "stdin"
	}
	return path
}

// CursorReader is a source that applies a cursor's lower bound itself (a query, where the
// database can use an index) and hands its rows over in ascending order of the cursor
// column, so a run that stops early has read every row below the last one it handed over.
type CursorReader interface {
	Source
	// ReadFrom is Read restricted to the rows whose cursor column is at least from: a
	// time.Time or an int64; nil reads every row, still in cursor order.
	ReadFrom(ctx context.Context, from any, yield func(Record) error) error
}

// Files is a Source over files read one after another (standard input for "-"), each
// by ReadOne: the part that knows the format.
type Files struct {
	// Format names the format in errors, e.g. "csv".
	Format string
	Paths  []string
	Stdin  io.Reader
	// ReadOne reads one opened file (a leading byte order mark already skipped); name
	// is how its errors name it.
	ReadOne func(ctx context.Context, name string, r io.Reader, yield func(Record) error) error
}

// Read implements Source.
func (f Files) Read(ctx context.Context, yield func(Record) error) error {
	for _, path := range f.Paths {
		name := Name(path)
		r, closeFile, err := Open(path, f.Stdin)
		if err != nil {
			return fmt.Errorf("%s %s: %w", f.Format, name, err)
		}
		err = f.ReadOne(ctx, name, r, yield)
		closeFile()
		if err != nil {
			return err
		}
	}
	return nil
}
