package ratelimit

import (
	"context"
	_ "embed"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed acquire.lua
	acquireLua    string
	acquireScript = redis.NewScript(acquireLua)
)

// Limit is one window of a budget: at most Count calls in any window of length Window,
// e.g. Limit{Count: 833, Window: 5 * time.Minute}.
type Limit struct {
	// Count is how many calls any window may hold: from 1 to Unlimited-1. Unlimited or
	// more means no limit: Acquire drops the Limit without asking Redis.
	Count int
	// Window is the length of the sliding window. At least 1ms when Count is enforced.
	Window time.Duration
}

// Limiter shares the budgets of API keys and destinations between every process that
// uses the same Redis and Options. It is safe for concurrent use.
type Limiter struct {
	client redis.UniversalClient
	opts   Options

	mu sync.Mutex
	// escalated holds the keys for which this process reported a 429 whose escalation no
	// success has ended yet: only for them does Recovered ask Redis.
	escalated map[string]struct{}
}

// New returns a Limiter that keeps its state in client's Redis. It fails with ErrInvalid
// when an option is out of range.
func New(client redis.UniversalClient, opts Options) (*Limiter, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Limiter{client: client, opts: opts, escalated: make(map[string]struct{})}, nil
}

// Wait blocks until it takes a slot of b under every enforced limit of its key and its
// destination, then returns how long it waited; the caller may then make one call. It
// sleeps until the earliest time a slot may be free (the oldest call of a full window
// leaves it, the key's learned cap grows, or the key's cool-down ends), plus up to
// Options.Jitter, and asks again. An unlimited budget (b.Unlimited(): no Count below
// Unlimited) returns 0 at once without asking Redis.
//
// When ctx ends first, Wait returns ctx.Err() without a slot. Other errors wrap
// ErrUnavailable (Redis cannot serve for now: do not call, retry later), ErrRedis (Redis
// needs an operator: do not call) or ErrInvalid (bad arguments).
func (l *Limiter) Wait(ctx context.Context, b Budget) (time.Duration, error) {
	start := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return time.Since(start), err
		}
		wait, err := l.Acquire(ctx, b)
		if err != nil || wait == 0 {
			return time.Since(start), err
		}
		if err := sleep(ctx, wait+rand.N(l.opts.Jitter)); err != nil {
			return time.Since(start), err
		}
	}
}

// Acquire tries once to take a slot of b: one script run checks the key's limits, the
// key's learned cap and cool-down, and the destination's limits, and takes the slot in
// the key's log and in the destination's log, or in neither. It returns 0 when it took
// one, else how long until one may be free, having taken nothing. An unlimited budget
// returns 0 at once without asking Redis. Errors are those of Wait.
func (l *Limiter) Acquire(ctx context.Context, b Budget) (time.Duration, error) {
	keys, args, err := l.plan(b)
	if err != nil || keys == nil {
		return 0, err
	}
	wait, err := acquireScript.Run(ctx, l.client, keys, args...).Int64()
	if err != nil {
		return 0, redisError(ctx, "acquire", describe(b), err)
	}
	return time.Duration(wait) * time.Microsecond, nil
}

// plan validates b and returns the keys and arguments of acquire.lua, without the limits
// that are not enforced; nil keys when none is left (no slot is needed).
func (l *Limiter) plan(b Budget) (keys []string, args []any, err error) {
	if err := checkKey(b.Key); err != nil {
		return nil, nil, err
	}
	if strings.ContainsAny(b.Destination, "{}") {
		return nil, nil, fmt.Errorf("%w: destination %q contains '{' or '}'; use the destination's name", ErrInvalid, b.Destination)
	}
	keyLimits, err := enforced(b.KeyLimits, "KeyLimits", b)
	if err != nil {
		return nil, nil, err
	}
	limits, err := enforced(b.Limits, "Limits", b)
	if err != nil {
		return nil, nil, err
	}
	if len(limits) > 0 && b.Destination == "" {
		return nil, nil, fmt.Errorf("%w: %s has Limits but no Destination; name the destination they belong to", ErrInvalid, describe(b))
	}
	shared := b.Shared && len(keyLimits) > 0
	if shared && b.Destination == "" {
		return nil, nil, fmt.Errorf("%w: %s is Shared but has no Destination; name the destination that shares the key", ErrInvalid, describe(b))
	}
	if len(keyLimits) == 0 && len(limits) == 0 {
		return nil, nil, nil
	}
	keys = []string{l.keyLog(b.Key), l.cooldownKey(b.Key), l.freshMark(b.Key, ""), l.freshMark(b.Key, b.Destination)}
	if len(limits) > 0 || shared {
		keys = append(keys, l.destinationLog(b.Key, b.Destination))
	}
	if shared {
		keys = append(keys, l.waitingSet(b.Key))
	}
	backfill := 0
	if b.Backfill {
		backfill = 1
	}
	args = make([]any, 0, 5+2*(len(keyLimits)+len(limits)))
	args = append(args, l.opts.Margin.Microseconds(), l.opts.CapWindow.Microseconds(), l.opts.FreshGrace.Microseconds(), backfill, len(keyLimits))
	for _, lim := range append(keyLimits, limits...) {
		args = append(args, lim.Count, lim.Window.Microseconds())
	}
	return keys, args, nil
}

// enforced returns the limits of ls below Unlimited, or ErrInvalid naming the first that
// is out of range (field names the list in errors).
func enforced(ls []Limit, field string, b Budget) ([]Limit, error) {
	var out []Limit
	for i, lim := range ls {
		if lim.Count >= Unlimited {
			continue
		}
		if lim.Count < 1 || lim.Window < time.Millisecond {
			return nil, fmt.Errorf("%w: %s[%d] of %s is %d per %v; want a Count from 1 (%d or more: no limit) and a Window of at least 1ms",
				ErrInvalid, field, i, describe(b), lim.Count, lim.Window, Unlimited)
		}
		out = append(out, lim)
	}
	return out, nil
}

// The Redis keys of an API key all carry it as hash tag, so that one script can use them
// on Redis Cluster.

// keyLog is the sorted set of the slots of key, taken by all its destinations.
func (l *Limiter) keyLog(key string) string { return l.tagged(key) + ":log" }

// cooldownKey is the hash of key's cool-down, escalation and learned cap.
func (l *Limiter) cooldownKey(key string) string { return l.tagged(key) + ":cooldown" }

// refusalLog is the sorted set of key's recent 429s without Retry-After.
func (l *Limiter) refusalLog(key string) string { return l.tagged(key) + ":refused" }

// destinationLog is the sorted set of the slots of destination under key.
func (l *Limiter) destinationLog(key, destination string) string {
	return l.tagged(key) + ":dest:" + destination + ":log"
}

// waitingSet holds the destinations of key whose fresh calls wait for a slot of the key's
// windows, as the names of their logs scored by the end of the wait plus the grace.
func (l *Limiter) waitingSet(key string) string { return l.tagged(key) + ":waiting" }

// freshMark exists while a fresh call of key (of destination, when not empty) waits for a
// slot of the key's windows (of the destination's own).
func (l *Limiter) freshMark(key, destination string) string {
	if destination == "" {
		return l.tagged(key) + ":fresh"
	}
	return l.tagged(key) + ":dest:" + destination + ":fresh"
}

func (l *Limiter) tagged(key string) string { return l.opts.KeyPrefix + "{" + key + "}" }

// checkKey accepts a non-empty API key name without braces, which would change the keys'
// hash tag.
func checkKey(key string) error {
	if key == "" || strings.ContainsAny(key, "{}") {
		return fmt.Errorf("%w: API key %q is empty or contains '{' or '}'; use the key's hash (Budget.Key)", ErrInvalid, key)
	}
	return nil
}

// describe names b in errors.
func describe(b Budget) string {
	if b.Destination == "" {
		return fmt.Sprintf("key %q", b.Key)
	}
	return fmt.Sprintf("key %q, destination %q", b.Key, b.Destination)
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
