package ledger_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/invitepipe/invitepipe/internal/ledger"
)

// TestRedisErrors checks which Redis replies say "unavailable, retry" and which need an
// operator (package rediserr decides); both keep the go-redis error in the chain.
func TestRedisErrors(t *testing.T) {
	tests := []struct {
		name        string
		reply       string
		unavailable bool
	}{
		// One of each class: package rediserr's own tests hold the whole table.
		{name: "loading", reply: "LOADING Redis is loading the dataset in memory", unavailable: true},
		{name: "replica after failover", reply: "READONLY You can't write against a read only replica.", unavailable: true},
		{name: "authentication", reply: "NOAUTH Authentication required."},
		{name: "foreign key under the prefix", reply: "WRONGTYPE Operation against a key holding the wrong kind of value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, e := newMiniredis(t)
			l := e.ledger(t, ledger.Options{})
			if err := e.client.Ping(context.Background()).Err(); err != nil {
				t.Fatalf("ping: %v", err)
			}
			m.SetError(tc.reply)
			_, err := l.Reserve(context.Background(), bu, "A-1", "a")
			var redisErr redis.Error
			if err == nil || !errors.As(err, &redisErr) || !strings.Contains(err.Error(), "reserve "+bu+"/A-1") {
				t.Fatalf("got %v, want an error about reserve %s/A-1 wrapping the Redis reply", err, bu)
			}
			if got := errors.Is(err, ledger.ErrUnavailable); got != tc.unavailable {
				t.Errorf("errors.Is(%v, ErrUnavailable) = %v, want %v", err, got, tc.unavailable)
			}
		})
	}
}

func TestUnreachableRedisIsUnavailable(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := listener.Addr().String()
	listener.Close()
	client := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: -1, DialerRetries: 1})
	defer client.Close()
	l, err := ledger.New(client, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"reserve": func() error { _, err := l.Reserve(context.Background(), bu, "A-1", "a"); return err },
		"confirm": func() error { return l.Confirm(context.Background(), bu, "A-1", "a") },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ledger.ErrUnavailable) {
			t.Errorf("%s with Redis down: got %v, want ErrUnavailable", name, err)
		}
	}
}

func TestCallerErrors(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name                string
		ctx                 context.Context
		businessUnit, owner string
		reference           string
		want                error
	}{
		{name: "empty business unit", ctx: context.Background(), reference: "A-1", owner: "a", want: ledger.ErrInvalid},
		{name: "business unit with a brace", ctx: context.Background(), businessUnit: "bu}", reference: "A-1", owner: "a", want: ledger.ErrInvalid},
		{name: "empty reference", ctx: context.Background(), businessUnit: bu, owner: "a", want: ledger.ErrInvalid},
		{name: "empty owner", ctx: context.Background(), businessUnit: bu, reference: "A-1", want: ledger.ErrInvalid},
		{name: "canceled by the caller", ctx: canceled, businessUnit: bu, reference: "A-1", owner: "a", want: context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, e := newMiniredis(t)
			l := e.ledger(t, ledger.Options{})
			_, err := l.Reserve(tc.ctx, tc.businessUnit, tc.reference, tc.owner)
			if !errors.Is(err, tc.want) || errors.Is(err, ledger.ErrUnavailable) {
				t.Fatalf("got %v, want %v and not ErrUnavailable", err, tc.want)
			}
			if keys := m.Keys(); len(keys) != 0 {
				t.Errorf("keys written: %q", keys)
			}
		})
	}
}

// TestClockSkew checks that a process whose clock is off by more than the layout's time
// slice writes nothing instead of looking in the wrong keys.
func TestClockSkew(t *testing.T) {
	for _, skew := range []time.Duration{-2 * ledger.EpochLength, 2 * ledger.EpochLength} {
		t.Run(skew.String(), func(t *testing.T) {
			m, e := newMiniredis(t)
			opts := ledger.WithClock(ledger.Options{}, func() time.Time { return start.Add(skew) })
			l, err := ledger.New(e.client, opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.Reserve(context.Background(), bu, "A-1", "a"); !errors.Is(err, ledger.ErrClockSkew) {
				t.Fatalf("got %v, want ErrClockSkew", err)
			}
			if keys := m.Keys(); len(keys) != 0 {
				t.Errorf("keys written: %q", keys)
			}
		})
	}
}
