package logging

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// New returns a JSON logger on w at level (a zerolog level name such as "info").
func New(w io.Writer, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("log level %q: use trace, debug, info, warn or error", level)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

func init() {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	zerolog.TimestampFunc = func() time.Time { return time.Now().UTC() }
}

// MaskEmail hides the local part of an email address but its first character:
// "ann.lee@example.com" -> "a***@example.com". A value without a single "@" between a
// local part and a domain is not an address anyone can read back, and masks to "***".
func MaskEmail(addr string) string {
	addr = strings.TrimSpace(addr)
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "***"
	}
	r := []rune(addr[:at])
	return string(r[0]) + "***" + addr[at:]
}

// emailLike matches what reads as an email address inside other text: a local part and
// a domain around one "@", without blanks, quotes, brackets or separators, so a match
// never spans a JSON string's quotes; nor a "/" in the local part, so the activation of
// a message key "<activation>/<email>" stays readable.
var emailLike = regexp.MustCompile(`[^\s"'<>()\[\]{},;:\\@/]+@[^\s"'<>()\[\]{},;:\\@]+`)

// MaskEmails masks, with MaskEmail, every email-looking word of s (a JSON document, a
// message key, free text) and keeps the rest byte for byte: JSON stays valid JSON.
func MaskEmails(s string) string {
	return emailLike.ReplaceAllStringFunc(s, MaskEmail)
}
