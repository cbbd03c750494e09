package ratelimit

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed acquire.lua
	acquireLua    string
	acquireScript = redis.NewScript(acquireLua)
)

// Limit is one budget of a destination: at most Count calls in any window of length
// Window, e.g. Limit{Count: 833, Window: 5 * time.Minute}.
type Limit struct {
	// Count is how many calls any window may hold. From 1 to math.MaxInt32.
	Count int
	// Window is the length of the sliding window. At least 1ms.
	Window time.Duration
}

// Limiter shares the budgets of destinations between every process that uses the same
// Redis and Options. It is safe for concurrent use.
type Limiter struct {
	client redis.UniversalClient
	opts   Options
}

// New returns a Limiter that keeps its state in client's Redis. It fails with ErrInvalid
// when an option is out of range.
func New(client redis.UniversalClient, opts Options) (*Limiter, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Limiter{client: client, opts: opts}, nil
}

// Wait blocks until it takes a slot of destination's budget under every limit, then
// returns how long it waited; the caller may then make one call. It sleeps until the
// earliest time a slot may be free (the oldest call of a full window leaves it, or the
// destination's cool-down ends), plus up to Options.Jitter, and asks again.
//
// When ctx ends first, Wait returns ctx.Err() without a slot. Errors wrap ErrUnavailable
// (Redis failed: do not call) or ErrInvalid (bad arguments).
func (l *Limiter) Wait(ctx context.Context, destination string, limits []Limit) (time.Duration, error) {
	start := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return time.Since(start), err
		}
		wait, err := l.Acquire(ctx, destination, limits)
		if err != nil || wait == 0 {
			return time.Since(start), err
		}
		if err := sleep(ctx, wait+rand.N(l.opts.Jitter)); err != nil {
			return time.Since(start), err
		}
	}
}

// Acquire tries once to take a slot of destination's budget under every limit. It returns
// 0 when it took one, else how long until one may be free (the destination's cool-down
// included), having taken nothing. Errors are those of Wait.
func (l *Limiter) Acquire(ctx context.Context, destination string, limits []Limit) (time.Duration, error) {
	if err := checkDestination(destination); err != nil {
		return 0, err
	}
	if len(limits) == 0 {
		return 0, fmt.Errorf("%w: no limits for destination %q; pass at least one Limit", ErrInvalid, destination)
	}
	args := make([]any, 1, 1+2*len(limits))
	args[0] = l.opts.Margin.Microseconds()
	for i, lim := range limits {
		if lim.Count < 1 || lim.Count > math.MaxInt32 || lim.Window < time.Millisecond {
			return 0, fmt.Errorf("%w: limits[%d] of destination %q is %d per %v; want a Count from 1 to 2^31-1 and a Window of at least 1ms",
				ErrInvalid, i, destination, lim.Count, lim.Window)
		}
		args = append(args, lim.Count, lim.Window.Microseconds())
	}
	logKey, cooldownKey := l.keys(destination)
	wait, err := acquireScript.Run(ctx, l.client, []string{logKey, cooldownKey}, args...).Int64()
	if err != nil {
		return 0, redisError(ctx, "acquire", destination, err)
	}
	return time.Duration(wait) * time.Microsecond, nil
}

// keys returns the log and the cool-down key of destination. Both carry the destination
// as hash tag, so one script can use both on Redis Cluster.
func (l *Limiter) keys(destination string) (log, cooldown string) {
	tagged := l.opts.KeyPrefix + "{" + destination + "}"
	return tagged + ":log", tagged + ":cooldown"
}

// checkDestination accepts a non-empty destination without braces, which would change the
// keys' hash tag.
func checkDestination(destination string) error {
	if destination == "" || strings.ContainsAny(destination, "{}") {
		return fmt.Errorf("%w: destination %q is empty or contains '{' or '}'; use the destination's name", ErrInvalid, destination)
	}
	return nil
}

// sleep waits for d or until ctx ends, returning ctx.Err() in that case.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
