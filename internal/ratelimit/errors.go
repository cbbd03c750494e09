package ratelimit

import (
	"context"
	"errors"
	"fmt"
)

var (
	// ErrUnavailable means the limiter could not decide: Redis did not answer, answered an
	// error, or the script failed. No slot can be assumed taken, so the call must not be
	// sent; retry later like any transient error.
	ErrUnavailable = errors.New("ratelimit: Redis unavailable")
	// ErrInvalid means the caller passed an argument the limiter cannot use (an empty or
	// malformed destination, a limit that is not positive, a negative option). It is a
	// bug or a configuration error: retrying does not help.
	ErrInvalid = errors.New("ratelimit: invalid argument")
)

// redisError classifies err from a Redis call made for op on destination: the context's
// own error when ctx has ended (the caller gave up; Redis is not to blame), else
// ErrUnavailable wrapping err.
func redisError(ctx context.Context, op, destination string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return fmt.Errorf("ratelimit: %s for destination %q: %w: %w", op, destination, ErrUnavailable, err)
}
