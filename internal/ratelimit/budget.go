package ratelimit

import "slices"

// Unlimited is the smallest Count that is not enforced: a window of Unlimited calls or
// more means "no limit" (keeping a log of that many slots would cost more than it
// protects; Trustpilot's own budgets are four orders of magnitude smaller). Acquire drops
// such a Limit before asking Redis, whatever its Window.
const Unlimited = 1_000_000

// Budget is what one call to Trustpilot counts against: the budget of its API key, shared
// by every destination that uses the key (Trustpilot counts per key), and the
// destination's own cap on top of it. A slot is taken in both or in neither.
type Budget struct {
	// Key identifies the API key in Redis keys and logs: a hash of it, never the key.
	// Cool-downs (429s) and the learned cap belong to the key. Required; no '{' or '}'.
	Key string
	// KeyLimits are the key's windows. Empty: the key is not limited. Every Budget with
	// the same Key must carry the same KeyLimits.
	KeyLimits []Limit
	// Destination names the destination whose own Limits apply; no '{' or '}'. Required
	// when Limits holds a Limit that is enforced, else ignored.
	Destination string
	// Limits are the destination's own windows, counted on top of the key's. Empty: none.
	Limits []Limit
	// Shared says that other destinations use the same key: while one of them waits for
	// a slot of the key's windows, a call of this destination takes at most its fair
	// share of each (doc.go, "Fair shares"). Destination is then required. Ignored when
	// KeyLimits enforces nothing.
	Shared bool
	// Backfill marks a call for a backfill row: it takes a slot only while no fresh call
	// (Backfill false) of the key or of the destination has been refused for want of one
	// in the last Options.FreshGrace past that refusal's wait (doc.go, "Fresh first").
	Backfill bool
}

// Unlimited reports whether no window applies (every Count, if any, is Unlimited or more):
// a call needs no slot, and Acquire and Wait return at once without asking Redis, so the
// key's cool-down and learned cap do not hold such a call back either.
func (b Budget) Unlimited() bool { return !enforces(b.KeyLimits) && !enforces(b.Limits) }

// enforces reports whether ls holds a Limit below Unlimited.
func enforces(ls []Limit) bool {
	return slices.ContainsFunc(ls, func(l Limit) bool { return l.Count < Unlimited })
}
