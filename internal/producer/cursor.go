package producer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CursorKind is what a cursor column holds.
type CursorKind int

// The kinds of cursor column.
const (
	// CursorTime is a timestamp: RFC 3339 text (any offset), compared as instants.
	CursorTime CursorKind = iota + 1
	// CursorInt is an integer (an id): a JSON number or decimal text in the int64 range.
	CursorInt
)

// Cursor is the cursor mode of an activation; the zero Cursor is diff mode.
type Cursor struct {
	// Column is the cursor column; empty in diff mode.
	Column string
	Kind   CursorKind
	// Lookback is how far below the stored cursor a timestamp cursor reads again.
	Lookback time.Duration
	// LookbackCount is how far below the stored cursor an integer cursor reads again.
	LookbackCount int64
}

// On reports whether c is cursor mode.
func (c Cursor) On() bool { return c.Column != "" }

// cursorValue is one value of a cursor column: t for CursorTime, n for CursorInt.
type cursorValue struct {
	t time.Time
	n int64
}

// parseLookback reads source.cursor_lookback: a Go duration (a timestamp cursor, e.g. 10m or
// 0s) or a non-negative integer (an integer cursor, e.g. 1000 or 0).
func parseLookback(v any) (Cursor, string) {
	var text string
	switch v := v.(type) {
	case int:
		text = strconv.Itoa(v)
	case int64:
		text = strconv.FormatInt(v, 10)
	case uint64:
		text = strconv.FormatUint(v, 10)
	case string:
		text = strings.TrimSpace(v)
	case nil:
		return Cursor{}, "required in cursor mode: a duration for a timestamp column (e.g. 10m, or 0s) or a count for an integer column (e.g. 1000, or 0)"
	default:
		return Cursor{}, "must be a duration (e.g. 10m) or a non-negative integer (e.g. 1000)"
	}
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		if n < 0 {
			return Cursor{}, fmt.Sprintf("%d is negative", n)
		}
		return Cursor{Kind: CursorInt, LookbackCount: n}, ""
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		return Cursor{}, fmt.Sprintf("%q is neither a duration (e.g. 10m) nor a non-negative integer (e.g. 1000)", text)
	}
	if d < 0 {
		return Cursor{}, fmt.Sprintf("%s is negative", d)
	}
	return Cursor{Kind: CursorTime, Lookback: d}, ""
}

// value reads a row's cursor column, or says why it has no cursor value.
func (c Cursor) value(row map[string]any) (cursorValue, string) {
	v, ok := row[c.Column]
	if !ok || v == nil {
		return cursorValue{}, fmt.Sprintf("cursor column %q is missing", c.Column)
	}
	var text string
	switch v := v.(type) {
	case string:
		text = strings.TrimSpace(v)
	case json.Number:
		text = v.String()
	default:
		return cursorValue{}, fmt.Sprintf("cursor column %q is not a string or a number", c.Column)
	}
	cv, err := c.parse(text)
	if err != nil {
		return cursorValue{}, fmt.Sprintf("cursor column %q: %v", c.Column, err)
	}
	return cv, ""
}

// parse reads a cursor value from its text (a row's, or the stored cursor).
func (c Cursor) parse(text string) (cursorValue, error) {
	if c.Kind == CursorInt {
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return cursorValue{}, fmt.Errorf("not an integer in the int64 range")
		}
		return cursorValue{n: n}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return cursorValue{}, fmt.Errorf("not an RFC 3339 timestamp (e.g. 2024-05-01T10:00:00Z)")
	}
	return cursorValue{t: t}, nil
}

// format is a value's text as the state stores it: RFC 3339 in UTC, or decimal.
func (c Cursor) format(v cursorValue) string {
	if c.Kind == CursorInt {
		return strconv.FormatInt(v.n, 10)
	}
	return v.t.UTC().Format(time.RFC3339Nano)
}

// less reports whether a is below b.
func (c Cursor) less(a, b cursorValue) bool {
	if c.Kind == CursorInt {
		return a.n < b.n
	}
	return a.t.Before(b.t)
}

// param is a value as the query's bound parameter.
func (c Cursor) param(v cursorValue) any {
	if c.Kind == CursorInt {
		return v.n
	}
	return v.t.UTC()
}

// lower is the run's read bound: the stored cursor less the look-back (nil: none),
// raised to since when since is later.
func (c Cursor) lower(stored *cursorValue, since time.Time) *cursorValue {
	var low *cursorValue
	if stored != nil {
		v := *stored
		if c.Kind == CursorInt {
			if v.n < -1<<63+c.LookbackCount {
				v.n = -1 << 63
			} else {
				v.n -= c.LookbackCount
			}
		} else {
			v.t = v.t.Add(-c.Lookback)
		}
		low = &v
	}
	if !since.IsZero() && c.Kind == CursorTime && (low == nil || low.t.Before(since)) {
		low = &cursorValue{t: since}
	}
	return low
}
