package deliver

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/invitepipe/invitepipe/internal/lane"
)

// coolingProbe bounds how long the other messages wait for the answer of the call that
// tries a key after its cool-down.
const coolingProbe = time.Second

// gate is this process's view of whether a destination can take a call now. It never
// blocks: a message that may not pass gets a *lane.Wait saying until when, and the
// consumer keeps it aside meanwhile.
//
//	state          | enter                                  | leaves it
//	open           | pass                                   | pause, hold
//	held: budget   | Wait until the hold ends               | the hold's end
//	held: cooling  | Wait until the cool-down ends; then    | works (a call answered
//	               | one probe passes, the others Wait for  | without 429)
//	               | its answer (at most coolingProbe)      |
//	paused         | one probe per interval passes; others  | works (a call answered)
//	               | Wait until the next probe time         |
//
// A hold costs no Redis round trip: a budget's wait is exact (no slot frees earlier) and
// cool-downs only grow, so trying before the hold ends could only be refused.
//
// Backfill rows pass the same gate, and their waits name the destination's backfill lane.
// They also respect a hold of their own: a budget wait met by a backfill row (the budget
// is spent, or fresh rows wait for it) holds back the backfill rows only, while any hold
// met by a fresh row holds back both.
type gate struct {
	name     string
	interval time.Duration
	gauge    prometheus.Gauge

	mu         sync.Mutex
	paused     bool
	reason     string
	probeAt    time.Time // while paused: when the next message may probe
	holdUntil  time.Time // budget or cool-down: no call before then
	holdReason lane.Reason
	// backfillUntil: no backfill call before then (a budget wait met by a backfill row).
	backfillUntil time.Time
}

func newGate(name string, interval time.Duration, gauge prometheus.Gauge) *gate {
	gauge.Set(0)
	return &gate{name: name, interval: interval, gauge: gauge}
}

// enter says whether the caller may call the destination at now: a nil wait means yes
// (probe true when it is the paused destination's probe of this interval). backfill says
// whether the caller's row is a backfill row.
func (g *gate) enter(now time.Time, backfill bool) (probe bool, wait *lane.Wait) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Before(g.holdUntil) {
		return false, g.wait(backfill, g.holdUntil, g.holdReason)
	}
	if backfill && now.Before(g.backfillUntil) {
		return false, g.wait(true, g.backfillUntil, lane.Budget)
	}
	if g.holdReason == lane.Cooling {
		// The cool-down is over: one call tries the key before everyone else does.
		g.holdUntil = now.Add(coolingProbe)
		return true, nil
	}
	if !g.paused {
		return false, nil
	}
	if now.Before(g.probeAt) {
		return false, g.wait(backfill, g.probeAt, lane.Paused)
	}
	g.probeAt = now.Add(g.interval)
	return true, nil
}

// hold refuses calls until until (or later, if already held longer), for reason (budget
// or cooling), and returns the wait. A budget wait of a backfill row holds back backfill
// rows only.
func (g *gate) hold(until time.Time, reason lane.Reason, backfill bool) *lane.Wait {
	g.mu.Lock()
	defer g.mu.Unlock()
	if backfill && reason == lane.Budget {
		if until.After(g.backfillUntil) {
			g.backfillUntil = until
		}
		return g.wait(true, g.backfillUntil, lane.Budget)
	}
	if until.After(g.holdUntil) {
		g.holdUntil = until
	}
	// A budget wait met while the key cools down (Redis counts the cool-down in it)
	// leaves the gate cooling: only an answer without 429 ends that.
	if g.holdReason != lane.Cooling {
		g.holdReason = reason
	}
	return g.wait(backfill, g.holdUntil, g.holdReason)
}

// wait is the Wait of a row (of the backfill lane when backfill) until until.
func (g *gate) wait(backfill bool, until time.Time, reason lane.Reason) *lane.Wait {
	name := g.name
	if backfill {
		name = lane.Backfill(name)
	}
	return &lane.Wait{Lane: name, Until: until, Reason: reason}
}

// pause marks the destination misconfigured until a call works; the next probe comes
// one interval from now. It returns the wait of the caller's row (a backfill row when
// backfill).
func (g *gate) pause(reason string, backfill bool) *lane.Wait {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused {
		g.paused = true
		g.gauge.Set(1)
	}
	g.reason = reason
	g.probeAt = time.Now().Add(g.interval)
	return g.wait(backfill, g.probeAt, lane.Paused)
}

// works records that a call reached the destination with an answer that is not a
// destination problem: the destination resumes.
func (g *gate) works() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused {
		g.paused = false
		g.reason = ""
		g.gauge.Set(0)
	}
	if g.holdReason == lane.Cooling {
		g.holdUntil, g.holdReason = time.Time{}, ""
	}
}

// probeEnded lets another message probe at once when a probe ended without a verdict.
func (g *gate) probeEnded() {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	g.probeAt = now
	if g.holdReason == lane.Cooling && g.holdUntil.After(now) {
		g.holdUntil = now
	}
}

// state reports whether the destination is paused, and why.
func (g *gate) state() (paused bool, reason string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused, g.reason
}
