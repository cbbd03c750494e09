package mapping

import (
	"fmt"
	"strings"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/logging"
	"github.com/invitepipe/invitepipe/internal/row"
)

// The activation's mapping fields, as errors name them.
const (
	fieldConsumerName    = "consumer_name"
	fieldConsumerEmail   = "consumer_email"
	fieldReferenceNumber = "reference_number"
	fieldReplyTo         = "reply_to"
	fieldLocale          = "locale"
	fieldSenderName      = "sender_name"
	fieldSenderEmail     = "sender_email"
	fieldLocationID      = "location_id"
	fieldTags            = "tags"
	fieldProductSKU      = "product_sku"
)

// forbiddenInReference are the characters that break Trustpilot's review links when a
// reference number holds them.
const forbiddenInReference = `#*+"%&`

// builder reads the fields of one row and keeps the first problem found; after it,
// every read returns no value.
type builder struct {
	row row.Row
	err *InvalidRowError
}

func (b *builder) fail(field, format string, args ...any) {
	if b.err == nil {
		b.err = &InvalidRowError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
}

// value returns the value of column: Null when the field is not mapped, the column is
// absent, or a problem was already found.
func (b *builder) value(column string) row.Value {
	if column == "" || b.err != nil {
		return row.Value{}
	}
	return b.row[column]
}

// text reads column as text: "" when it has no value.
func (b *builder) text(field, column string) string {
	v := b.value(column)
	if v.Kind == row.List {
		b.fail(field, "column %q holds an array, which only tags and product_sku accept", column)
		return ""
	}
	return b.scalar(field, column, v)
}

// scalar reads a value that is not an array as text.
func (b *builder) scalar(field, column string, v row.Value) string {
	switch v.Kind {
	case row.String:
		return strings.TrimSpace(v.Text)
	case row.Number:
		text, ok := v.Decimal()
		if !ok {
			b.fail(field, "column %q holds a number with an exponent beyond ±%d, too long as decimal text (send it as a string)", column, row.MaxExponent)
		}
		return text
	case row.Bool:
		b.fail(field, "column %q holds a boolean, not text", column)
	}
	return ""
}

// list reads column as a list: an array's items, a string read by fromString, or a
// number's decimal text; trimmed, blank items dropped, nil when none is left.
func (b *builder) list(field, column string, fromString func(string) []string) []string {
	v := b.value(column)
	switch v.Kind {
	case row.List:
		return cleanList(v.Strings)
	case row.String:
		return fromString(v.Text)
	}
	return cleanList([]string{b.scalar(field, column, v)})
}

// required reads column as text that must have a value.
func (b *builder) required(field, column string) string {
	text := b.text(field, column)
	b.require(field, column, text != "")
	return text
}

// require reports a required field without a value unless ok.
func (b *builder) require(field, column string, ok bool) {
	if !ok {
		b.fail(field, "required, but column %q has no value (absent, null or blank)", column)
	}
}

// fixedOr returns fixed when set, else column as text.
func (b *builder) fixedOr(fixed, field, column string) string {
	if fixed != "" {
		return fixed
	}
	return b.text(field, column)
}

// fixedOrEmail returns fixed when set (activation.Load checked it), else column as an
// email address.
func (b *builder) fixedOrEmail(fixed, field, column string) string {
	if fixed != "" {
		return fixed
	}
	return b.email(field, b.text(field, column))
}

// email checks an email address, when there is one.
func (b *builder) email(field, addr string) string {
	if addr != "" && !activation.ValidEmail(addr) {
		b.fail(field, "%q is not an email address", logging.MaskEmail(addr))
	}
	return addr
}

// reference checks a reference number for the characters that break review links.
func (b *builder) reference(ref string) string {
	if i := strings.IndexAny(ref, forbiddenInReference); i >= 0 {
		b.fail(fieldReferenceNumber, "holds %q, which breaks Trustpilot's review links (none of # * + \" %% & may appear)", ref[i])
	}
	return ref
}

// locale normalises the locale read from column, when there is one.
func (b *builder) locale(column, s string) string {
	if s == "" {
		return ""
	}
	norm, ok := normalizeLocale(s)
	if !ok {
		b.fail(fieldLocale, "column %q holds no locale: write language-REGION, e.g. en-US or da-DK", column)
	}
	return norm
}

// normalizeLocale writes language-REGION as Trustpilot does: en_us, EN-us -> en-US.
func normalizeLocale(s string) (string, bool) {
	i := strings.IndexAny(s, "-_")
	if i < 0 {
		return "", false
	}
	lang, region := s[:i], s[i+1:]
	if len(lang) < 2 || len(lang) > 3 || len(region) != 2 || !asciiLetters(lang) || !asciiLetters(region) {
		return "", false
	}
	return strings.ToLower(lang) + "-" + strings.ToUpper(region), true
}

func asciiLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
