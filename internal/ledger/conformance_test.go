package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/invitepipe/invitepipe/internal/ledger"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// The conformance suite states the ledger's behaviour once and runs against every Redis
// it must work on: miniredis, the real server, a real Redis Cluster.

// env is one backend prepared for one test.
type env struct {
	client redis.UniversalClient
	// options adapts options to the backend (miniredis: its clock).
	options func(ledger.Options) ledger.Options
	// pass lets at least d go by for the server: miniredis moves its clock, a real server
	// sleeps.
	pass func(d time.Duration)
	// shared: other tests use the server, so each test deletes its keys.
	shared bool
}

// backend prepares a fresh env for t.
type backend func(t *testing.T) *env

// batched returns newEnv whose ledgers batch concurrent operations (Options.Batch).
func batched(newEnv backend) backend {
	return func(t *testing.T) *env {
		e := newEnv(t)
		options := e.options
		e.options = func(o ledger.Options) ledger.Options {
			o.Batch = true
			return options(o)
		}
		return e
	}
}

const (
	bu    = "507f191e810c19729de860ea"
	short = 300 * time.Millisecond // a lease the test sees run out
	long  = time.Minute            // a lease that outlives the test
)

// ledger returns a Ledger on e whose keys no other test shares; on a shared server they
// are deleted when the test ends.
func (e *env) ledger(t *testing.T, opts ledger.Options) *ledger.Ledger {
	t.Helper()
	opts.KeyPrefix = testenv.UniqueName(t, "ledger") + ":"
	l, err := ledger.New(e.client, e.options(opts))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if e.shared {
		t.Cleanup(func() {
			if err := deleteKeys(context.Background(), e.client, opts.KeyPrefix+"*"); err != nil {
				t.Errorf("delete the test's keys: %v", err)
			}
		})
	}
	return l
}

// deleteKeys deletes the keys matching pattern on every master.
func deleteKeys(ctx context.Context, c redis.UniversalClient, pattern string) error {
	if cluster, ok := c.(*redis.ClusterClient); ok {
		return cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return deleteKeys(ctx, node, pattern)
		})
	}
	iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		if err := c.Del(ctx, iter.Val()).Err(); err != nil {
			return err
		}
	}
	return iter.Err()
}

// eventually lets time pass on e until cond holds, failing the test after 10 s of wall
// time.
func (e *env) eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		e.pass(25 * time.Millisecond)
	}
}

// waitUnknown waits until the lease of ref's reservation has run out.
func (e *env) waitUnknown(t *testing.T, l *ledger.Ledger, ref string) {
	t.Helper()
	e.eventually(t, "lease runs out", func() bool {
		return status(t, l.Reserve, ref, "observer") == ledger.UnknownOutcome
	})
}

type reserveFunc func(ctx context.Context, businessUnitID, reference, owner string) (ledger.Result, error)

// status calls reserve (Reserve or TakeOver) and returns the status.
func status(t *testing.T, reserve reserveFunc, ref, owner string) ledger.Status {
	t.Helper()
	r, err := reserve(context.Background(), bu, ref, owner)
	if err != nil {
		t.Fatalf("reserve %s for %s: %v", ref, owner, err)
	}
	return r.Status
}

// expect fails the test unless reserve answers want.
func expect(t *testing.T, reserve reserveFunc, ref, owner string, want ledger.Status) {
	t.Helper()
	if got := status(t, reserve, ref, owner); got != want {
		t.Fatalf("reserve %s for %s: got %v, want %v", ref, owner, got, want)
	}
}

type settleFunc func(ctx context.Context, businessUnitID, reference, owner string) error

// settle calls one of Confirm, Release, MarkUnknown and Forget and fails the test unless
// it returns nil (lost false) or ErrLeaseLost (lost true).
func settle(t *testing.T, name string, f settleFunc, ref, owner string, lost bool) {
	t.Helper()
	err := f(context.Background(), bu, ref, owner)
	if lost && !errors.Is(err, ledger.ErrLeaseLost) || !lost && err != nil {
		t.Fatalf("%s %s by %s: got %v, want lost=%v", name, ref, owner, err, lost)
	}
}

func testConformance(t *testing.T, newEnv backend) {
	tests := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"reserve, confirm, then duplicate", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.Options{Lease: long})
			expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
			settle(t, "confirm", l.Confirm, "A-1", "a", false)
			settle(t, "confirm again", l.Confirm, "A-1", "a", false)
			expect(t, l.Reserve, "A-1", "b", ledger.Duplicate)
			expect(t, l.TakeOver, "A-1", "b", ledger.Duplicate)
			expect(t, l.Reserve, "A-1", "a", ledger.Duplicate)
		}},
		{"a retried reserve of the same owner is reserved again", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.Options{Lease: long})
			expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
			expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
			expect(t, l.Reserve, "A-1", "b", ledger.Busy)
		}},
		{"busy while leased, with the lease left", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.Options{Lease: long})
			expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
			r, err := l.Reserve(context.Background(), bu, "A-1", "b")
			if err != nil || r.Status != ledger.Busy || r.Wait <= 0 || r.Wait > long {
				t.Fatalf("reserve held reference: got %+v, %v; want Busy with 0 < Wait <= %v", r, err, long)
			}
			expect(t, l.TakeOver, "A-1", "b", ledger.Busy)
		}},
		{"one of 50 concurrent reserves wins", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.Options{Lease: long})
			var wg sync.WaitGroup
			results := make([]ledger.Status, 50)
			errs := make([]error, 50)
			for i := range results {
				wg.Go(func() {
					r, err := l.Reserve(context.Background(), bu, "A-1", fmt.Sprintf("owner-%d", i))
					results[i], errs[i] = r.Status, err
				})
			}
			wg.Wait()
			count := map[ledger.Status]int{}
			for i, s := range results {
				if errs[i] != nil {
					t.Fatalf("reserve %d: %v", i, errs[i])
				}
				count[s]++
			}
			if count[ledger.Reserved] != 1 || count[ledger.Busy] != 49 {
				t.Fatalf("got %v, want 1 reserved and 49 busy", count)
			}
		}},
		{"300 references sent at once are each reserved, confirmed, then duplicates", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.Options{Lease: long})
			const n = 300
			each := func(what string, f func(ref, owner string) error) {
				t.Helper()
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() { errs[i] = f(fmt.Sprintf("REF-%d", i), fmt.Sprintf("owner-%d", i)) })
				}
				wg.Wait()
				if err := errors.Join(errs...); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			want := func(op reserveFunc, want ledger.Status) func(ref, owner string) error {
				return func(ref, owner string) error {
					r, err := op(context.Background(), bu, ref, owner)
					if err == nil && r.Status != want {
						err = fmt.Errorf("%s: got %v, want %v", ref, r.Status, want)
					}
					return err
				}
			}
			each("reserve", want(l.Reserve, ledger.Reserved))
			each("reserve by another owner", func(ref, _ string) error { return want(l.Reserve, ledger.Busy)(ref, "other") })
			each("confirm", func(ref, owner string) error { return l.Confirm(context.Background(), bu, ref, owner) })
			each("reserve again", func(ref, _ string) error { return want(l.Reserve, ledger.Duplicate)(ref, "other") })
		}},
		{"a lease that runs out unconfirmed is an unknown outcome", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.Options{Lease: short})
			expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
			expect(t, l.Reserve, "A-1", "b", ledger.Busy)
			e.waitUnknown(t, l, "A-1")
			expect(t, l.Reserve, "A-1", "b", ledger.UnknownOutcome)
		}},
		{"resend takes over an unknown outcome", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.Options{Lease: short})
			expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
			e.waitUnknown(t, l, "A-1")
			expect(t, l.TakeOver, "A-1", "b", ledger.Reserved)
			expect(t, l.Reserve, "A-1", "c", ledger.Busy)
			settle(t, "confirm", l.Confirm, "A-1", "b", false)
			expect(t, l.Reserve, "A-1", "c", ledger.Duplicate)
		}},
		{"confirm by a non-owner is lost but records the send", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.Options{Lease: long})
			expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
			settle(t, "confirm", l.Confirm, "A-1", "b", true)
			expect(t, l.Reserve, "A-1", "c", ledger.Duplicate)
			settle(t, "confirm by the owner", l.Confirm, "A-1", "a", false)
		}},
		{"confirm after the lease ran out untouched", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.Options{Lease: short})
			expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
			e.waitUnknown(t, l, "A-1")
			settle(t, "confirm", l.Confirm, "A-1", "a", false)
			expect(t, l.Reserve, "A-1", "b", ledger.Duplicate)
		}},
		{"confirm after a takeover is lost but records the send", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.Options{Lease: short})
			expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
			e.waitUnknown(t, l, "A-1")
			expect(t, l.TakeOver, "A-1", "b", ledger.Reserved)
			settle(t, "confirm", l.Confirm, "A-1", "a", true)
			expect(t, l.Reserve, "A-1", "c", ledger.Duplicate)
			settle(t, "confirm by the new owner", l.Confirm, "A-1", "b", false)
			settle(t, "release by the new owner", l.Release, "A-1", "b", true)
			expect(t, l.Reserve, "A-1", "c", ledger.Duplicate)
		}},
		{"confirm after the unknown outcome was dead-lettered", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.Options{Lease: short})
			expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
			e.waitUnknown(t, l, "A-1")
			expect(t, l.TakeOver, "A-1", "dlq", ledger.Reserved)
			settle(t, "forget", l.Forget, "A-1", "dlq", false)
			settle(t, "confirm", l.Confirm, "A-1", "a", true)
			expect(t, l.Reserve, "A-1", "redrive", ledger.Duplicate)
		}},
		{"release leaves no trace", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.Options{Lease: long})
			expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
			settle(t, "release", l.Release, "A-1", "a", false)
			settle(t, "release again", l.Release, "A-1", "a", false)
			expect(t, l.Reserve, "A-1", "b", ledger.Reserved)
			settle(t, "release by a former owner", l.Release, "A-1", "a", true)
			expect(t, l.Reserve, "A-1", "c", ledger.Busy)
		}},
		{"forget after a rejection lets the fixed row be sent", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.Options{Lease: long})
			expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
			settle(t, "forget by a non-owner", l.Forget, "A-1", "b", true)
			settle(t, "forget", l.Forget, "A-1", "a", false)
			settle(t, "forget again", l.Forget, "A-1", "a", false)
			expect(t, l.Reserve, "A-1", "fixed", ledger.Reserved)
		}},
		{"release and forget never drop a confirmed reference", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.Options{Lease: long})
			expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
			settle(t, "confirm", l.Confirm, "A-1", "a", false)
			settle(t, "release", l.Release, "A-1", "a", true)
			settle(t, "forget", l.Forget, "A-1", "a", true)
			settle(t, "mark unknown", l.MarkUnknown, "A-1", "a", true)
			expect(t, l.Reserve, "A-1", "b", ledger.Duplicate)
		}},
		{"mark unknown makes an ambiguous call an unknown outcome at once", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.Options{Lease: long})
			expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
			settle(t, "mark unknown", l.MarkUnknown, "A-1", "a", false)
			settle(t, "mark unknown again", l.MarkUnknown, "A-1", "a", false)
			expect(t, l.Reserve, "A-1", "a", ledger.UnknownOutcome)
			expect(t, l.Reserve, "A-1", "b", ledger.UnknownOutcome)
		}},
		{"mark unknown leaves another owner's reservation alone", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.Options{Lease: long})
			expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
			settle(t, "mark unknown", l.MarkUnknown, "A-1", "b", true)
			expect(t, l.Reserve, "A-1", "c", ledger.Busy)
			settle(t, "mark unknown of a gone reference", l.MarkUnknown, "A-2", "b", true)
			expect(t, l.Reserve, "A-2", "c", ledger.UnknownOutcome)
		}},
		{"a dead-lettered unknown outcome is sent on redrive", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.Options{Lease: long})
			expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
			settle(t, "mark unknown", l.MarkUnknown, "A-1", "a", false)
			expect(t, l.Reserve, "A-1", "b", ledger.UnknownOutcome)
			expect(t, l.TakeOver, "A-1", "b", ledger.Reserved)
			settle(t, "forget after dead-lettering", l.Forget, "A-1", "b", false)
			expect(t, l.Reserve, "A-1", "redrive", ledger.Reserved)
		}},
		{"references and business units are independent", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.Options{Lease: long})
			long1 := strings.Repeat("x", 40) + "1"
			long2 := strings.Repeat("x", 40) + "2"
			for _, ref := range []string{"A-1", "A-2", long1, long2, "\x00A-1", "Å-1 ünïcode"} {
				expect(t, l.Reserve, ref, "a", ledger.Reserved)
			}
			r, err := l.Reserve(context.Background(), "other-business-unit", "A-1", "b")
			if err != nil || r.Status != ledger.Reserved {
				t.Fatalf("reserve A-1 of another business unit: got %+v, %v; want Reserved", r, err)
			}
			settle(t, "confirm", l.Confirm, long1, "a", false)
			expect(t, l.Reserve, long1, "b", ledger.Duplicate)
			expect(t, l.Reserve, long2, "b", ledger.Busy)
		}},
		{"confirmed references are forgotten after the retention", func(t *testing.T, e *env) {
			l := e.ledger(t, ledger.WithEpoch(ledger.Options{Lease: long, Retention: time.Second}, 250*time.Millisecond))
			expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
			settle(t, "confirm", l.Confirm, "A-1", "a", false)
			expect(t, l.Reserve, "A-1", "b", ledger.Duplicate)
			e.eventually(t, "retention runs out", func() bool {
				return status(t, l.Reserve, "A-1", "b") == ledger.Reserved
			})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newEnv(t))
		})
	}
}
