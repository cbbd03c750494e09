package ledger_test

import (
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/invitepipe/invitepipe/internal/ledger"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// start is where the clock of every miniredis test begins.
var start = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// newMiniredis starts a miniredis whose TIME, TTLs and the ledger's clock all follow
// env.pass.
func newMiniredis(t *testing.T) (*miniredis.Miniredis, *env) {
	t.Helper()
	m := miniredis.RunT(t)
	m.SetTime(start)
	m.ClockTTL(true)
	clock := testenv.NewClock(start)
	client := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { client.Close() })
	return m, &env{
		client:  client,
		options: func(o ledger.Options) ledger.Options { return ledger.WithClock(o, clock.Now) },
		pass:    func(d time.Duration) { m.SetTime(clock.Advance(d)) },
	}
}

func TestConformanceMiniredis(t *testing.T) {
	newEnv := func(t *testing.T) *env {
		_, e := newMiniredis(t)
		return e
	}
	testConformance(t, newEnv)
	t.Run("batched", func(t *testing.T) { testConformance(t, batched(newEnv)) })
}

// TestRetention checks the default layout's lifetimes by moving the clock by hundreds of
// days: an entry lives at least the retention and at most one epoch longer, confirmed or
// not.
func TestRetention(t *testing.T) {
	tests := []struct {
		name    string
		confirm bool
		after   time.Duration
		want    ledger.Status
		// gone: no key is left, before the final Reserve writes one.
		gone bool
	}{
		{name: "confirmed, just before the retention", confirm: true, after: ledger.DefaultRetention - time.Millisecond, want: ledger.Duplicate},
		{name: "confirmed, after the retention and one epoch", confirm: true, after: ledger.DefaultRetention + ledger.EpochLength, want: ledger.Reserved, gone: true},
		{name: "unconfirmed, just before the retention", after: ledger.DefaultRetention - time.Millisecond, want: ledger.UnknownOutcome},
		{name: "unconfirmed, after the retention and one epoch", after: ledger.DefaultRetention + ledger.EpochLength, want: ledger.Reserved, gone: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, l := aged(t, tc.confirm, tc.after)
			if keys := m.Keys(); tc.gone && len(keys) != 0 {
				t.Errorf("keys left after %v: %q", tc.after, keys)
			}
			expect(t, l.Reserve, "A-1", "b", tc.want)
		})
	}
}

// TestSettleLooksFurther checks the operations that follow a Reserve on an entry older
// than the recent epochs they look in first: they find it in every retained epoch, act
// on it as on a recent one, and a write moves it to the current epoch.
func TestSettleLooksFurther(t *testing.T) {
	const age = 100 * 24 * time.Hour // more than the recent epochs, well within the retention
	tests := []struct {
		name    string
		confirm bool // confirm before the entry ages
		settle  func(*ledger.Ledger) settleFunc
		lost    bool
		want    ledger.Status // a new owner's Reserve afterwards
	}{
		{name: "confirm an unknown outcome of its own owner", settle: func(l *ledger.Ledger) settleFunc { return l.Confirm }, want: ledger.Duplicate},
		{name: "confirm again", confirm: true, settle: func(l *ledger.Ledger) settleFunc { return l.Confirm }, want: ledger.Duplicate},
		{name: "release", settle: func(l *ledger.Ledger) settleFunc { return l.Release }, want: ledger.Reserved},
		{name: "release of a confirmed reference", confirm: true, settle: func(l *ledger.Ledger) settleFunc { return l.Release }, lost: true, want: ledger.Duplicate},
		{name: "mark unknown", settle: func(l *ledger.Ledger) settleFunc { return l.MarkUnknown }, want: ledger.UnknownOutcome},
		{name: "forget", settle: func(l *ledger.Ledger) settleFunc { return l.Forget }, want: ledger.Reserved},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, l := aged(t, tc.confirm, age)
			old := m.Keys()
			settle(t, tc.name, tc.settle(l), "A-1", "a", tc.lost)
			if now := m.Keys(); tc.want == ledger.Reserved && len(now) != 0 || tc.want != ledger.Reserved && len(now) != 1 {
				t.Errorf("keys before %q, after %q: want the entry gone, moved or left, never copied", old, now)
			}
			expect(t, l.Reserve, "A-1", "b", tc.want)
		})
	}
}

// aged returns a ledger on a new miniredis where owner "a" reserved "A-1" (and confirmed
// it, with confirm), and then d passed.
func aged(t *testing.T, confirm bool, d time.Duration) (*miniredis.Miniredis, *ledger.Ledger) {
	t.Helper()
	m, e := newMiniredis(t)
	l := e.ledger(t, ledger.Options{})
	expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
	if confirm {
		settle(t, "confirm", l.Confirm, "A-1", "a", false)
	}
	e.pass(d)
	return m, l
}
