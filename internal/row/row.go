package row

import (
	"strconv"
	"strings"
	"time"
)

// Message is a decoded row message.
type Message struct {
	// Activation is the id of the activation the row belongs to, [a-z0-9][a-z0-9-]*, at
	// most 100 characters.
	Activation string
	// RowID identifies the row within its activation; never empty.
	RowID string
	// EmittedAt is when the producer emitted the row; zero when the message has none.
	// A leap second (23:59:60) reads as the start of the next minute.
	EmittedAt time.Time
	// Backfill is true for a row of a backfill ("priority": "backfill"): its destination
	// serves fresh rows before it.
	Backfill bool
	// Row holds the row's columns; never nil.
	Row Row
}

// PriorityBackfill is the value of a row message's "priority" that marks a backfill row.
const PriorityBackfill = "backfill"

// Row is a row's columns by name. Looking up an absent column gives a Null Value, so
// "absent" and "null" read the same.
type Row map[string]Value

// Kind is the JSON type of a row value.
type Kind uint8

// The kinds of row values. Null is the zero Kind.
const (
	Null Kind = iota
	String
	Number
	Bool
	// List is an array of strings, the only array a row may hold.
	List
)

// String names the kind as messages speak of it, e.g. "a boolean".
func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case String:
		return "a string"
	case Number:
		return "a number"
	case Bool:
		return "a boolean"
	case List:
		return "an array of strings"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one column of a row. The zero Value is Null.
type Value struct {
	Kind Kind
	// Text is a String's text, or a Number's JSON literal exactly as sent (see Decimal).
	Text string
	// Bool is a Bool's value.
	Bool bool
	// Strings are a List's strings, in order.
	Strings []string
}

// MaxExponent bounds the exponent of a number Decimal writes out: 1e100 is a 101-digit
// integer, already longer than any id or name, and 1e999999999 (12 bytes of JSON) would
// be a gigabyte of digits.
const MaxExponent = 100

// Decimal returns a Number as plain decimal text, the shortest that keeps its exact
// value: no exponent, no leading or trailing zeros, no sign on zero. So 1234000123,
// 1.234000123e+09 and 1234000123.0 all give "1234000123", 1.50 gives "1.5" and 1e-3
// gives "0.001". ok is false for another kind, and for a non-zero number written with
// an exponent beyond ±MaxExponent.
func (v Value) Decimal() (text string, ok bool) {
	if v.Kind != Number {
		return "", false
	}
	return decimal(v.Text)
}

// decimal rewrites a valid JSON number literal as plain decimal text.
func decimal(lit string) (string, bool) {
	neg := strings.HasPrefix(lit, "-")
	lit = strings.TrimPrefix(lit, "-")
	if strings.IndexAny(lit, ".eE") < 0 { // an integer, the common case
		if neg && lit != "0" {
			return "-" + lit, true
		}
		return lit, true
	}
	mant, exp := lit, 0
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		mant = lit[:i]
		sign, e := 1, lit[i+1:]
		if strings.HasPrefix(e, "-") {
			sign = -1
		}
		e = strings.TrimLeft(strings.TrimLeft(e, "+-"), "0")
		if len(e) > 3 { // beyond MaxExponent, and maybe beyond int
			return zeroOrNothing(mant)
		}
		n, err := strconv.Atoi("0" + e)
		if err != nil {
			return "", false // not a literal Decode made
		}
		if n > MaxExponent {
			return zeroOrNothing(mant)
		}
		exp = sign * n
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	point := len(intPart) + exp // digits[:point] is the integer part
	trimmed := strings.TrimLeft(digits, "0")
	point -= len(digits) - len(trimmed)
	digits = strings.TrimRight(trimmed, "0")
	if digits == "" {
		return "0", true
	}
	var b strings.Builder
	b.Grow(len(digits) + max(point-len(digits), -point, 0) + 3)
	if neg {
		b.WriteByte('-')
	}
	switch {
	case point <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -point))
		b.WriteString(digits)
	case point >= len(digits):
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", point-len(digits)))
	default:
		b.WriteString(digits[:point])
		b.WriteByte('.')
		b.WriteString(digits[point:])
	}
	return b.String(), true
}

// zeroOrNothing is the decimal text of a number whose exponent is out of bounds: "0"
// when its mantissa is zero, none otherwise.
func zeroOrNothing(mant string) (string, bool) {
	if strings.Trim(mant, "0.") == "" {
		return "0", true
	}
	return "", false
}
