package row

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxMessageBytes is the largest message Decode accepts: 1 MiB, the contract's limit.
const MaxMessageBytes = 1 << 20

// maxActivationLen is the schema's maxLength for an activation id.
const maxActivationLen = 100

// MalformedError says why a message is not a row message of the contract. Its
// dead-letter class is "malformed".
type MalformedError struct {
	// Path locates the problem, e.g. "activation", "row.address" or "row.tags[1]"; empty
	// for the message as a whole.
	Path string
	// Reason says what is wrong and, where it helps, what the contract wants instead. It
	// never quotes a value.
	Reason string
}

// Error returns "malformed row message: <path>: <reason>".
func (e *MalformedError) Error() string {
	if e.Path == "" {
		return "malformed row message: " + e.Reason
	}
	return "malformed row message: " + e.Path + ": " + e.Reason
}

// Class returns the dead-letter error class of a malformed message, "malformed".
func (e *MalformedError) Class() string { return "malformed" }

// Decode reads a row message (the value of a record on the rows topic). A message that
// is not one, by schemas/row.v1.schema.json or by its size, yields a *MalformedError.
// The strings of the Message share one copy of value, which Decode does not keep.
func Decode(value []byte) (Message, error) {
	if len(value) > MaxMessageBytes {
		return Message{}, &MalformedError{Reason: fmt.Sprintf("the message is %d bytes, over the limit of %d (1 MiB)", len(value), MaxMessageBytes)}
	}
	if !json.Valid(value) {
		return Message{}, &MalformedError{Reason: syntaxError(value)}
	}
	s := scanner{src: string(value)}
	s.space()
	if s.peek() != '{' {
		return Message{}, &MalformedError{Reason: "must be a JSON object, not " + s.kind()}
	}
	// Fields are read where their last occurrence starts, as encoding/json reads them.
	activation, rowID, emittedAt, priority, row := absent, absent, absent, absent, absent
	s.members(func(key string) {
		switch key {
		case "activation":
			activation = s.pos
		case "row_id":
			rowID = s.pos
		case "emitted_at":
			emittedAt = s.pos
		case "priority":
			priority = s.pos
		case "row":
			row = s.pos
		}
		s.skip()
	})
	var m Message
	var bad *MalformedError
	if m.Activation, bad = s.requiredString("activation", activation); bad != nil {
		return Message{}, bad
	}
	if reason := checkActivationID(m.Activation); reason != "" {
		return Message{}, &MalformedError{Path: "activation", Reason: reason}
	}
	if m.RowID, bad = s.requiredString("row_id", rowID); bad != nil {
		return Message{}, bad
	}
	if m.RowID == "" {
		return Message{}, &MalformedError{Path: "row_id", Reason: "must not be empty"}
	}
	if emittedAt != absent {
		at, bad := s.requiredString("emitted_at", emittedAt)
		if bad != nil {
			return Message{}, bad
		}
		var ok bool
		if m.EmittedAt, ok = parseDateTime(at); !ok {
			return Message{}, &MalformedError{Path: "emitted_at", Reason: "not an RFC 3339 date-time such as 2026-11-25T10:00:00Z"}
		}
	}
	if priority != absent {
		p, bad := s.requiredString("priority", priority)
		if bad != nil {
			return Message{}, bad
		}
		if p != PriorityBackfill {
			return Message{}, &MalformedError{Path: "priority", Reason: fmt.Sprintf("%q is not a priority; the only one is %q (absent: a fresh row)", p, PriorityBackfill)}
		}
		m.Backfill = true
	}
	if row == absent {
		return Message{}, &MalformedError{Path: "row", Reason: "required"}
	}
	s.pos = row
	if m.Row, bad = s.row(); bad != nil {
		return Message{}, bad
	}
	return m, nil
}

// syntaxError says where value stops being JSON.
func syntaxError(value []byte) string {
	var v any
	err := json.Unmarshal(value, &v)
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Sprintf("not valid JSON: %s (at byte %d)", syntax, syntax.Offset)
	}
	return "not valid JSON" // unreachable: json.Valid and json.Unmarshal share a scanner
}

// checkActivationID says what is wrong with an activation id, or returns "".
func checkActivationID(id string) string {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' && i > 0) {
			return "must be lowercase letters, digits and '-', not starting with '-' (e.g. orders-service)"
		}
	}
	switch {
	case id == "":
		return "must not be empty"
	case len(id) > maxActivationLen:
		return fmt.Sprintf("longer than %d characters", maxActivationLen)
	}
	return ""
}

// scanner walks a JSON text that json.Valid accepted, so it never meets a syntax error
// and never reads past the end.
type scanner struct {
	src string
	pos int
}

func (s *scanner) peek() byte { return s.src[s.pos] }

// space skips whitespace.
func (s *scanner) space() {
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// kind names the JSON type of the value at the cursor.
func (s *scanner) kind() string {
	switch s.peek() {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return String.String()
	case 't', 'f':
		return Bool.String()
	case 'n':
		return Null.String()
	}
	return Number.String()
}

// members calls fn with the cursor on each member's value, in order; fn consumes the
// value.
func (s *scanner) members(fn func(key string)) {
	s.pos++ // {
	s.space()
	if s.peek() == '}' {
		s.pos++
		return
	}
	for {
		key := s.str()
		s.space()
		s.pos++ // :
		s.space()
		fn(key)
		s.space()
		s.pos++ // , or }
		if s.src[s.pos-1] == '}' {
			return
		}
		s.space()
	}
}

// items calls fn with the cursor on each item of the array at the cursor; fn consumes
// the item. It stops at the first error fn returns.
func (s *scanner) items(fn func(index int) *MalformedError) *MalformedError {
	s.pos++ // [
	s.space()
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for i := 0; ; i++ {
		if bad := fn(i); bad != nil {
			return bad
		}
		s.space()
		s.pos++ // , or ]
		if s.src[s.pos-1] == ']' {
			return nil
		}
		s.space()
	}
}

// skip moves the cursor past the value at it.
func (s *scanner) skip() {
	switch s.peek() {
	case '"':
		s.skipString()
	case '{', '[':
		for depth := 0; ; {
			switch s.peek() {
			case '"':
				s.skipString()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			s.pos++
			if depth == 0 {
				return
			}
		}
	default: // a number, true, false or null: up to the next delimiter
		for s.pos < len(s.src) && strings.IndexByte(" \t\n\r,}]", s.src[s.pos]) < 0 {
			s.pos++
		}
	}
}

// skipString moves the cursor past the string at it and reports whether the string
// holds an escape.
func (s *scanner) skipString() (escaped bool) {
	for s.pos++; ; s.pos++ {
		switch s.src[s.pos] {
		case '\\':
			escaped = true
			s.pos++ // the escaped character is never the closing quote
		case '"':
			s.pos++
			return escaped
		}
	}
}

// str decodes the string at the cursor and moves past it.
func (s *scanner) str() string {
	start := s.pos
	escaped := s.skipString()
	text := s.src[start+1 : s.pos-1]
	// Without escapes and in valid UTF-8 the text is the bytes themselves; otherwise
	// encoding/json resolves the escapes and replaces invalid bytes, as every reader does.
	if !escaped && utf8.ValidString(text) {
		return text
	}
	var out string
	_ = json.Unmarshal([]byte(s.src[start:s.pos]), &out) // cannot fail: a valid string
	return out
}

// absent is where the value of a field the message does not have starts.
const absent = -1

// requiredString decodes the string field name, whose value starts at at.
func (s *scanner) requiredString(name string, at int) (string, *MalformedError) {
	if at == absent {
		return "", &MalformedError{Path: name, Reason: "required"}
	}
	s.pos = at
	if s.peek() != '"' {
		return "", &MalformedError{Path: name, Reason: "must be a string, not " + s.kind()}
	}
	return s.str(), nil
}

// row decodes the row object at the cursor. When several columns are wrong, the one
// first in byte order is reported, so the same message always gets the same reason.
func (s *scanner) row() (Row, *MalformedError) {
	if s.peek() != '{' {
		return nil, &MalformedError{Path: "row", Reason: "must be an object of columns, not " + s.kind()}
	}
	r := make(Row)
	var bad map[string]*MalformedError // by column; a later duplicate may undo an entry
	s.members(func(name string) {
		v, problem := s.value(name)
		if problem != nil {
			if bad == nil {
				bad = make(map[string]*MalformedError)
			}
			bad[name] = problem
			delete(r, name)
			return
		}
		delete(bad, name)
		r[name] = v
	})
	var first *MalformedError
	var firstName string
	for name, problem := range bad {
		if first == nil || name < firstName {
			first, firstName = problem, name
		}
	}
	if first != nil {
		return nil, first
	}
	return r, nil
}

// value decodes the value of column name at the cursor and moves past it.
func (s *scanner) value(name string) (Value, *MalformedError) {
	switch s.peek() {
	case '"':
		return Value{Kind: String, Text: s.str()}, nil
	case '{':
		s.skip()
		return Value{}, &MalformedError{Path: columnPath(name, -1), Reason: "objects are not allowed (use a string, number, boolean, null or an array of strings)"}
	case '[':
		v := Value{Kind: List, Strings: []string{}}
		bad := s.items(func(i int) *MalformedError {
			if s.peek() != '"' {
				return &MalformedError{Path: columnPath(name, i), Reason: "arrays may hold only strings, not " + s.kind()}
			}
			v.Strings = append(v.Strings, s.str())
			return nil
		})
		if bad != nil {
			s.skipToEndOf(']')
			return Value{}, bad
		}
		return v, nil
	}
	start := s.pos
	s.skip()
	switch lit := s.src[start:s.pos]; lit {
	case "null":
		return Value{}, nil
	case "true", "false":
		return Value{Kind: Bool, Bool: lit == "true"}, nil
	default:
		return Value{Kind: Number, Text: lit}, nil
	}
}

// skipToEndOf moves the cursor past the end of the array or object it is inside, closed
// by end.
func (s *scanner) skipToEndOf(end byte) {
	for {
		s.space()
		if c := s.peek(); c == end {
			s.pos++
			return
		} else if c == ',' {
			s.pos++
			continue
		}
		s.skip()
	}
}

// maxNameInPath bounds how much of a column's name an error repeats.
const maxNameInPath = 64

// columnPath writes where a column (and an item of it, when index >= 0) is: row.tags[1]
// for a plain name, row["first name"] for another, shortened past maxNameInPath bytes.
func columnPath(name string, index int) string {
	path := "row." + name
	if !plainName(name) {
		if len(name) > maxNameInPath {
			name = name[:maxNameInPath] + "..."
		}
		path = "row[" + strconv.Quote(name) + "]"
	}
	if index >= 0 {
		path += "[" + strconv.Itoa(index) + "]"
	}
	return path
}

// plainName reports whether a column name reads unambiguously after "row.".
func plainName(name string) bool {
	if name == "" || len(name) > maxNameInPath {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
