package config

import (
	"encoding"
	"fmt"
	"strings"
)

// List is a comma-separated list of values that parse themselves (UnmarshalText), read
// from one variable. Items are trimmed and blank ones skipped, so an empty value is an
// empty list; a value replaces the default, never adds to it.
type List[T any, P textPointer[T]] []T

// textPointer is *T when T parses its text form.
type textPointer[T any] interface {
	*T
	encoding.TextUnmarshaler
}

// Decode replaces the list with the items of value (envconfig.Decoder).
func (l *List[T, P]) Decode(value string) error {
	var out List[T, P]
	for _, item := range items(value) {
		var v T
		if err := P(&v).UnmarshalText([]byte(item)); err != nil {
			return err
		}
		out = append(out, v)
	}
	*l = out
	return nil
}

// String joins the items' String forms (fmt's %v) with commas.
func (l List[T, P]) String() string {
	parts := make([]string, len(l))
	for i, v := range l {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ",")
}

// Strings is a comma-separated list of words read from one variable, with List's rules.
type Strings []string

// Decode replaces the list with the items of value (envconfig.Decoder).
func (s *Strings) Decode(value string) error {
	*s = items(value)
	return nil
}

// String joins the items with commas.
func (s Strings) String() string { return strings.Join(s, ",") }

// items splits value on commas, trims each item and drops blank ones; nil when none is
// left.
func items(value string) []string {
	var out []string
	for item := range strings.SplitSeq(value, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
