package ledger

import (
	"errors"
	"strings"

	"github.com/invitepipe/invitepipe/internal/rediserr"
)

// Sentinels matching an *Error of the same kind with errors.Is. Every error a Ledger
// method returns means the same to a consumer: do not call Trustpilot and do not
// dead-letter the message because of it; the ledger's answer is missing, not the row's
// fault. The exception is ErrLeaseLost, which reports a state, not a failure.
var (
	// ErrUnavailable: Redis could not be reached or is not serving for now (connection
	// refused or cut, timeout, LOADING, READONLY after a failover, CLUSTERDOWN, TRYAGAIN,
	// MASTERDOWN, BUSY, too many clients). Pause and retry with backoff; it heals without
	// a change. The go-redis error stays in the chain for errors.As.
	ErrUnavailable = errors.New("redis unavailable")
	// ErrLeaseLost: the reference was not, or no longer, reserved by the caller's owner
	// token when Confirm, Release, MarkUnknown or Forget ran, so another worker may have
	// acted on it meanwhile. Each method says what it still did.
	ErrLeaseLost = errors.New("reservation lost")
	// ErrInvalid: an empty business unit id, reference or owner, or a business unit id
	// with a brace. Nothing was sent to Redis.
	ErrInvalid = errors.New("invalid argument")
	// ErrClockSkew: this process's clock and the Redis server's differ by more than the
	// layout's time slice (30 days), so the ledger cannot tell which keys to look in.
	// Fix the clock.
	ErrClockSkew = errors.New("clock skew")
)

// Error is a failed or lost ledger operation on one reference.
type Error struct {
	// Op is the method: "reserve", "take over", "confirm", "release", "mark unknown",
	// "forget".
	Op             string
	BusinessUnitID string
	Reference      string
	// Kind is ErrUnavailable, ErrLeaseLost, ErrInvalid, ErrClockSkew, or nil for a Redis
	// error that needs an operator (authentication, ACL, OOM, a key of another type
	// under the prefix).
	Kind error
	// Detail says more about Kind, e.g. what Confirm found instead of the reservation.
	Detail string
	// Err is the underlying error, if any (go-redis, context).
	Err error
}

// Error returns "ledger: <op> <business unit>/<reference>: <kind>: <detail>: <cause>".
func (e *Error) Error() string {
	parts := []string{"ledger: " + e.Op + " " + e.BusinessUnitID + "/" + e.Reference}
	if e.Kind != nil {
		parts = append(parts, e.Kind.Error())
	}
	if e.Detail != "" {
		parts = append(parts, e.Detail)
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	return strings.Join(parts, ": ")
}

// Is reports whether target is e's kind.
func (e *Error) Is(target error) bool { return target != nil && target == e.Kind }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// kindOf returns ErrUnavailable for a go-redis error that Redis recovers from by itself
// (rediserr.Unavailable), nil otherwise: those need an operator. The caller's own
// cancellation is not unavailability: it stays only context.Canceled.
func kindOf(err error) error {
	if rediserr.Unavailable(err) {
		return ErrUnavailable
	}
	return nil
}
