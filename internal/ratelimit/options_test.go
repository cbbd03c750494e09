package ratelimit_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/invitepipe/invitepipe/internal/ratelimit"
)

func TestNewRejectsOptionsOutOfRange(t *testing.T) {
	tests := []struct {
		name  string
		opts  ratelimit.Options
		field string
	}{
		{name: "negative margin", opts: ratelimit.Options{Margin: -time.Millisecond}, field: "Margin"},
		{name: "negative jitter", opts: ratelimit.Options{Jitter: -time.Millisecond}, field: "Jitter"},
		{name: "negative cool-down base", opts: ratelimit.Options{CooldownBase: -time.Second}, field: "CooldownBase"},
		{name: "negative cool-down cap", opts: ratelimit.Options{CooldownMax: -time.Second}, field: "CooldownMax"},
		{name: "cap below base", opts: ratelimit.Options{CooldownBase: time.Minute, CooldownMax: time.Second}, field: "CooldownMax"},
		{name: "cap below the default base", opts: ratelimit.Options{CooldownMax: 100 * time.Millisecond}, field: "CooldownMax"},
		{name: "negative cap window", opts: ratelimit.Options{CapWindow: -time.Minute}, field: "CapWindow"},
		{name: "cap window below a millisecond", opts: ratelimit.Options{CapWindow: time.Microsecond}, field: "CapWindow"},
		{name: "brace in key prefix", opts: ratelimit.Options{KeyPrefix: "rl:{x}:"}, field: "KeyPrefix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ratelimit.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), tc.opts)
			if !errors.Is(err, ratelimit.ErrInvalid) || l != nil {
				t.Fatalf("New(%+v) = %v, %v; want nil, ErrInvalid", tc.opts, l, err)
			}
			if !strings.Contains(err.Error(), "Options."+tc.field) {
				t.Errorf("error %q does not name Options.%s", err, tc.field)
			}
		})
	}
}

func TestInvalidArgumentsNeverReachRedis(t *testing.T) {
	// The server is closed: an argument that passed validation would give ErrUnavailable.
	m := miniredis.RunT(t)
	addr := m.Addr()
	m.Close()
	l, err := ratelimit.New(redis.NewClient(&redis.Options{Addr: addr}), ratelimit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ok := []ratelimit.Limit{{Count: 1, Window: time.Second}}
	acquire := func(b ratelimit.Budget) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := l.Acquire(ctx, b)
			return err
		}
	}
	tests := []struct {
		name string
		call func(context.Context) error
	}{
		{name: "empty key", call: acquire(ratelimit.Budget{KeyLimits: ok})},
		{name: "empty key of an unlimited budget", call: acquire(ratelimit.Budget{})},
		{name: "brace in key", call: func(ctx context.Context) error {
			_, err := l.Wait(ctx, ratelimit.Budget{Key: "k}1", KeyLimits: ok})
			return err
		}},
		{name: "brace in destination", call: acquire(ratelimit.Budget{Key: "k1", Destination: "shop{eu", Limits: ok})},
		{name: "destination limits without a destination", call: acquire(ratelimit.Budget{Key: "k1", Limits: ok})},
		{name: "a shared key without a destination", call: acquire(ratelimit.Budget{Key: "k1", KeyLimits: ok, Shared: true})},
		{name: "zero count", call: acquire(ratelimit.Budget{Key: "k1", KeyLimits: []ratelimit.Limit{{Count: 0, Window: time.Second}}})},
		{name: "negative count of a destination", call: acquire(ratelimit.Budget{Key: "k1", Destination: "shop-eu", Limits: []ratelimit.Limit{{Count: -1, Window: time.Second}}})},
		{name: "window below a millisecond", call: func(ctx context.Context) error {
			_, err := l.Wait(ctx, ratelimit.Budget{Key: "k1", KeyLimits: append(ok, ratelimit.Limit{Count: 5, Window: time.Microsecond})})
			return err
		}},
		{name: "zero cool-down", call: func(ctx context.Context) error {
			return l.Cooldown(ctx, "k1", 0)
		}},
		{name: "cool-down of a key with a brace", call: func(ctx context.Context) error {
			_, err := l.Throttled(ctx, "{k1", time.Second)
			return err
		}},
		{name: "recovery of an empty key", call: func(ctx context.Context) error {
			return l.Recovered(ctx, "")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(context.Background())
			if !errors.Is(err, ratelimit.ErrInvalid) || errors.Is(err, ratelimit.ErrUnavailable) {
				t.Errorf("got %v; want ErrInvalid only", err)
			}
		})
	}
}
