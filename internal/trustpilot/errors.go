package trustpilot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// Class says what a caller should do about a failed call.
type Class int

const (
	// ClassRejected: Trustpilot refused this invitation (400, 415 and the
	// other 4xx about the request itself). Sending it again cannot succeed;
	// the row needs fixing (or, for 415, the client does).
	ClassRejected Class = iota + 1
	// ClassDestinationBroken: the destination is misconfigured (401 after a
	// re-mint, 403, 404, token endpoint refusing the credentials, an answer
	// that is not Trustpilot's). Every call to it will fail the same way
	// until an operator fixes it: pause the destination, do not blame the row.
	ClassDestinationBroken
	// ClassRateLimited: Trustpilot answered 429. Slow the whole destination;
	// APIError.RetryAfter holds Retry-After when the answer had one.
	ClassRateLimited
	// ClassTransient: the call failed in transit or on Trustpilot's side (5xx,
	// timeouts, refused or dropped connections, cut-short responses). Retry
	// with backoff.
	ClassTransient
)

// String returns the class in snake case, e.g. "destination_broken".
func (c Class) String() string {
	switch c {
	case ClassRejected:
		return "rejected"
	case ClassDestinationBroken:
		return "destination_broken"
	case ClassRateLimited:
		return "rate_limited"
	case ClassTransient:
		return "transient"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// Sentinels matching an *APIError of the same class with errors.Is.
var (
	ErrRejected          = errors.New("trustpilot: rejected")
	ErrDestinationBroken = errors.New("trustpilot: destination broken")
	ErrRateLimited       = errors.New("trustpilot: rate limited")
	ErrTransient         = errors.New("trustpilot: transient")
)

func (c Class) sentinel() error {
	switch c {
	case ClassRejected:
		return ErrRejected
	case ClassDestinationBroken:
		return ErrDestinationBroken
	case ClassRateLimited:
		return ErrRateLimited
	case ClassTransient:
		return ErrTransient
	}
	return nil
}

// retryable reports whether sending the same call again later may succeed.
func (c Class) retryable() bool { return c == ClassRateLimited || c == ClassTransient }

// APIError is a failed call. Its fields hold what Trustpilot said, with
// secrets and the consumer's email address removed.
type APIError struct {
	// Op names the operation, e.g. "create email invitation", "mint token".
	Op string
	// Status is the HTTP status code, or 0 when no status line arrived.
	Status int
	// Class says what to do about the error.
	Class Class
	// Message is Trustpilot's message (JSON message, faultstring or Error
	// field, or an HTML page's title), or what went wrong in transit.
	Message string
	// ErrorCode is Trustpilot's error code as text (e.g. "1014"), if any.
	ErrorCode string
	// CorrelationID is Trustpilot's correlation id, if any: quote it to
	// Trustpilot support.
	CorrelationID string
	// RetryAfter is the response's Retry-After (seconds or HTTP-date), or 0
	// when it had none.
	RetryAfter time.Duration
	// Body is the start of the response body, whitespace collapsed.
	Body string
	// Hint says what to check or change, when something more specific than
	// the class is known.
	Hint string
	// Err is the underlying error (network, timeout, decoding), if any.
	Err error
}

// Error returns op, status, class, Trustpilot's message and the hint on one
// line.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("trustpilot: ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	if e.Status != 0 {
		b.WriteString(strings.TrimSpace(fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))) + ": ")
	}
	b.WriteString(strings.ReplaceAll(e.Class.String(), "_", " "))
	switch {
	case e.Message != "":
		b.WriteString(": " + e.Message)
	case e.Body != "":
		fmt.Fprintf(&b, ": body %q", e.Body)
	case e.Status != 0:
		b.WriteString(": empty body")
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	var ids []string
	if e.ErrorCode != "" {
		ids = append(ids, "errorCode "+e.ErrorCode)
	}
	if e.CorrelationID != "" {
		ids = append(ids, "correlationId "+e.CorrelationID)
	}
	if len(ids) > 0 {
		b.WriteString(" (" + strings.Join(ids, ", ") + ")")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %v)", e.RetryAfter)
	}
	if e.Hint != "" {
		b.WriteString("; " + e.Hint)
	}
	return b.String()
}

// Is reports whether target is the sentinel of e's class.
func (e *APIError) Is(target error) bool { return target != nil && target == e.Class.sentinel() }

// Unwrap returns the underlying error.
func (e *APIError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is an *APIError whose call may succeed if
// sent again later: ClassRateLimited or ClassTransient. It is false for nil,
// for the other classes and for the caller's own context ending.
func IsRetryable(err error) bool {
	e, ok := errors.AsType[*APIError](err)
	return ok && e.Class.retryable()
}

// Ambiguous reports whether a failed CreateEmailInvitation may nonetheless have created
// the invitation, so that sending it again could send it twice: the request may have
// reached Trustpilot and no complete answer came back (a timeout, a connection cut, the
// caller's context ending mid-call), or a gateway answered 502 or 504 for an origin that
// may have processed it. A refused connection or an unknown host is not ambiguous, nor
// is any answer Trustpilot gave itself (4xx, 500, 503, 520): Trustpilot has no
// idempotency key, so only our ledger can tell the two apart, and it needs to know.
func Ambiguous(err error) bool {
	var e *APIError
	if !errors.As(err, &e) {
		return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
	}
	if e.Op != opInvite {
		return false
	}
	switch e.Status {
	case 0:
		var dns *net.DNSError
		return !errors.Is(e.Err, syscall.ECONNREFUSED) && !errors.As(e.Err, &dns)
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return true
	}
	return false
}
