package trustpilot

import (
	"encoding/json"
	"html"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	// maxErrorBody is how much of a failure's body is read for its message.
	maxErrorBody = 64 << 10
	// maxSuccessBody is the largest 2xx body read; the rest is dropped.
	maxSuccessBody = 1 << 20
	// maxBodySnippet is how much of a body APIError.Body keeps, in bytes.
	maxBodySnippet = 512
)

// classifyCall maps a non-2xx status of an API call to its class.
func classifyCall(status int) Class {
	switch {
	case status == http.StatusTooManyRequests:
		return ClassRateLimited
	case status >= 500, status == http.StatusRequestTimeout:
		return ClassTransient
	case status < 400, // a redirect: the base URL is not the API's
		status == http.StatusUnauthorized, // after the one re-mint
		status == http.StatusForbidden,
		status == http.StatusNotFound,
		status == http.StatusMethodNotAllowed, // a base URL pointing elsewhere
		status == http.StatusGone:
		return ClassDestinationBroken
	}
	return ClassRejected
}

// classifyMint maps a non-2xx status of the token endpoint to its class. A
// refused mint is never about an invitation: any 4xx but 429 means the
// credentials or the base URL are wrong.
func classifyMint(status int) Class {
	if c := classifyCall(status); c == ClassRateLimited || c == ClassTransient {
		return c
	}
	return ClassDestinationBroken
}

// failure builds the *APIError for a non-2xx response. body has already been
// scrubbed of secrets.
func failure(op string, class Class, resp *http.Response, body string, now time.Time) *APIError {
	e := &APIError{
		Op:         op,
		Status:     resp.StatusCode,
		Class:      class,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now),
		Body:       snippet(body),
	}
	e.Message, e.ErrorCode, e.CorrelationID = parseErrorBody(body)
	if loc := resp.Header.Get("Location"); e.Message == "" && loc != "" {
		e.Message = "redirects to " + loc
	}
	return e
}

// parseErrorBody extracts the message, error code and correlation id from
// whichever body shape arrived: {"message","errorCode","correlationId"},
// {"fault":{"faultstring","detail":{"errorcode"}}}, {"ErrorCode","Error"},
// or an HTML page (its title). Anything else yields empty strings.
func parseErrorBody(body string) (message, code, correlationID string) {
	t := strings.TrimSpace(body)
	switch {
	case strings.HasPrefix(t, "{"):
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(t), &m) != nil {
			return "", "", ""
		}
		var fault struct {
			FaultString string `json:"faultstring"`
			Detail      struct {
				ErrorCode string `json:"errorcode"`
			} `json:"detail"`
		}
		if raw, ok := m["fault"]; ok {
			_ = json.Unmarshal(raw, &fault) // a fault of another shape leaves the fields empty
		}
		message = firstNonEmpty(jsonText(m["message"]), fault.FaultString, jsonText(m["Error"]))
		code = firstNonEmpty(jsonText(m["errorCode"]), fault.Detail.ErrorCode, jsonText(m["ErrorCode"]))
		return message, code, jsonText(m["correlationId"])
	case strings.HasPrefix(t, "<"):
		if sub := htmlTitle.FindStringSubmatch(t); sub != nil {
			return collapse(html.UnescapeString(sub[1])), "", ""
		}
	}
	return "", "", ""
}

var htmlTitle = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// jsonText renders a JSON string or number as text; other values are "".
func jsonText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// parseRetryAfter reads a Retry-After value in seconds or as an HTTP-date.
// It returns 0 when the value is absent, malformed or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, math.MaxInt64/int64(time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// snippet returns the start of body with whitespace collapsed, at most
// maxBodySnippet bytes, valid UTF-8.
func snippet(body string) string {
	s := collapse(strings.ToValidUTF8(body, "\uFFFD"))
	if len(s) <= maxBodySnippet {
		return s
	}
	cut := maxBodySnippet
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// scrubber removes secrets and the consumer's email address from text that
// ends up in errors.
type scrubber struct{ r *strings.Replacer }

// newScrubber replaces each non-empty secret with "[redacted]" and each
// non-empty email with "[consumer email]". Longer secrets are matched first,
// so a secret containing another is removed whole.
func newScrubber(secrets []string, emails ...string) scrubber {
	secrets = slices.Clone(secrets)
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	var pairs []string
	for _, s := range secrets {
		if s != "" {
			pairs = append(pairs, s, "[redacted]")
		}
	}
	for _, e := range emails {
		if e != "" {
			pairs = append(pairs, e, "[consumer email]")
		}
	}
	return scrubber{strings.NewReplacer(pairs...)}
}

func (s scrubber) scrub(text string) string { return s.r.Replace(text) }
