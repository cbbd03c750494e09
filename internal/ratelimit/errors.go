package ratelimit

import (
	"context"
	"errors"
	"fmt"

	"github.com/invitepipe/invitepipe/internal/rediserr"
)

var (
	// ErrUnavailable means the limiter could not decide because Redis cannot serve for
	// now and will again by itself (rediserr.Unavailable: network, timeout, failover,
	// LOADING, BUSY, too many clients...). No slot can be assumed taken, so the call must
	// not be sent; retry later like any transient error.
	ErrUnavailable = errors.New("ratelimit: Redis unavailable")
	// ErrRedis means Redis answered an error that needs an operator: authentication or
	// ACL (NOAUTH, WRONGPASS, NOPERM), out of memory (OOM), a key of another type under
	// the prefix (WRONGTYPE), a failing script, an unexpected reply. The call must not be
	// sent, and retrying does not help until someone fixes Redis: report it loudly.
	ErrRedis = errors.New("ratelimit: Redis error needs an operator")
	// ErrInvalid means the caller passed an argument the limiter cannot use (an empty or
	// malformed key or destination, a limit that is not positive, a negative option). It
	// is a bug or a configuration error: retrying does not help.
	ErrInvalid = errors.New("ratelimit: invalid argument")
)

// redisError classifies err from a Redis call made for op on the budget or key that what
// names: the context's own error when ctx has ended (the caller gave up; Redis is not to
// blame), else ErrUnavailable or ErrRedis wrapping err.
func redisError(ctx context.Context, op, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	kind := ErrRedis
	if rediserr.Unavailable(err) {
		kind = ErrUnavailable
	}
	return fmt.Errorf("ratelimit: %s for %s: %w: %w", op, what, kind, err)
}
