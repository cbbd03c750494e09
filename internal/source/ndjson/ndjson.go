package ndjson

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/invitepipe/invitepipe/internal/source"
)

// MaxLine bounds one line: a row message is at most 1 MiB.
const MaxLine = 1 << 20

// New returns a Source over paths (from source.Paths); stdin is read for "-".
func New(paths []string, stdin io.Reader) source.Source {
	return source.Files{Format: "ndjson", Paths: paths, Stdin: stdin, ReadOne: readFile}
}

// readFile reads one NDJSON file.
func readFile(ctx context.Context, name string, r io.Reader, yield func(source.Record) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		text, tooLong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("ndjson %s: line %d: %w", name, line, err)
		}
		if tooLong {
			rec := source.Record{Where: fmt.Sprintf("%s:%d", name, line), Err: fmt.Errorf("%s: line %d, column %d: longer than %d bytes", name, line, MaxLine+1, MaxLine)}
			if yerr := yield(rec); yerr != nil {
				return yerr
			}
		} else if len(bytes.TrimSpace(text)) > 0 {
			if yerr := yield(parse(name, line, text)); yerr != nil {
				return yerr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

// readLine returns the next line without its end; past MaxLine it discards the rest of the
// line and reports tooLong. err is io.EOF at the end of the input.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > MaxLine+1 { // +1: the newline
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		return buf, tooLong, err
	}
}

// parse turns one line into a row, or an error naming its position.
func parse(name string, line int, text []byte) source.Record {
	where := name + ":" + strconv.Itoa(line)
	bad := func(format string, args ...any) source.Record {
		return source.Record{Where: where, Err: fmt.Errorf("%s: line %d, %s", name, line, fmt.Sprintf(format, args...))}
	}
	if !utf8.Valid(text) {
		return bad("column %d: not valid UTF-8", invalidUTF8At(text)+1)
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return bad("column %d: not JSON: %s", se.Offset, se.Error())
		}
		return bad("column %d: not JSON: %s", dec.InputOffset()+1, err.Error())
	}
	if off := dec.InputOffset(); len(bytes.TrimSpace(text[off:])) > 0 {
		return bad("column %d: more than one JSON value on the line", off+1+int64(len(text[off:])-len(bytes.TrimLeft(text[off:], " \t"))))
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return bad("column 1: %s, not a JSON object", kind(v))
	}
	for k, val := range obj {
		switch val := val.(type) {
		case string, json.Number, bool, nil:
		case []any:
			list := make([]string, len(val))
			for i, item := range val {
				s, ok := item.(string)
				if !ok {
					return bad("column %q: item %d is %s; an array may hold only strings", k, i, kind(item))
				}
				list[i] = s
			}
			obj[k] = list
		default:
			return bad("column %q: %s; a value is a string, number, boolean, null or array of strings", k, kind(val))
		}
	}
	return source.Record{Row: obj, Where: where}
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
