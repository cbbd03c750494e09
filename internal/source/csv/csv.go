package csv

import (
	"context"
	encsv "encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/invitepipe/invitepipe/internal/source"
)

// New returns a Source over paths (from source.Paths); stdin is read for "-".
func New(paths []string, stdin io.Reader) source.Source {
	return source.Files{Format: "csv", Paths: paths, Stdin: stdin, ReadOne: readFile}
}

// readFile reads one CSV file.
func readFile(ctx context.Context, name string, r io.Reader, yield func(source.Record) error) error {
	cr := encsv.NewReader(r)
	cr.FieldsPerRecord = -1 // counted here, so the error names the column
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil // an empty file has no rows
	}
	if err != nil {
		return fmt.Errorf("csv %s: header: %w", name, err)
	}
	if err := checkHeader(header); err != nil {
		return fmt.Errorf("csv %s:1: header: %w", name, err)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		fields, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var rec source.Record
		var pe *encsv.ParseError
		switch {
		case errors.As(err, &pe):
			rec = source.Record{Where: fmt.Sprintf("%s:%d", name, pe.StartLine),
				Err: fmt.Errorf("%s: line %d, column %d: %w", name, pe.Line, pe.Column, pe.Err)}
		case err != nil:
			return fmt.Errorf("csv %s: %w", name, err)
		default:
			line, _ := cr.FieldPos(0)
			rec = record(name, line, header, fields, cr)
		}
		if err := yield(rec); err != nil {
			return err
		}
	}
}

// record turns one parsed record into a row, or an error naming its position.
func record(name string, line int, header, fields []string, cr *encsv.Reader) source.Record {
	where := name + ":" + strconv.Itoa(line)
	if len(fields) != len(header) {
		col := min(len(fields), len(header)) + 1
		return source.Record{Where: where, Err: fmt.Errorf("%s: line %d, column %d: %d fields, the header has %d", name, line, col, len(fields), len(header))}
	}
	row := make(map[string]any, len(fields))
	for i, f := range fields {
		if !utf8.ValidString(f) {
			l, c := cr.FieldPos(i)
			return source.Record{Where: where, Err: fmt.Errorf("%s: line %d, column %d (%s): not valid UTF-8", name, l, c, header[i])}
		}
		row[header[i]] = f
	}
	return source.Record{Row: row, Where: where}
}

func checkHeader(header []string) error {
	seen := make(map[string]int, len(header))
	for i, h := range header {
		switch {
		case h == "":
			return fmt.Errorf("column %d has no name", i+1)
		case !utf8.ValidString(h):
			return fmt.Errorf("column %d: name is not valid UTF-8", i+1)
		}
		if j, dup := seen[h]; dup {
			return fmt.Errorf("columns %d and %d are both named %q", j+1, i+1, h)
		}
		seen[h] = i
	}
	return nil
}
