package deliver

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// gate holds a destination's messages while it is paused as misconfigured, letting one
// message through per probe interval to try it again. A probe that ends without a
// verdict (a duplicate, an abandoned message) costs at most one interval: the gate never
// waits on a probe to report.
type gate struct {
	interval time.Duration
	gauge    prometheus.Gauge

	mu      sync.Mutex
	paused  bool
	reason  string
	probeAt time.Time     // while paused: when the next message may probe
	resumed chan struct{} // closed when the destination resumes
}

func newGate(interval time.Duration, gauge prometheus.Gauge) *gate {
	gauge.Set(0)
	return &gate{interval: interval, gauge: gauge, resumed: make(chan struct{})}
}

// enter returns when the caller may call the destination: at once while it is not
// paused; while paused, when the caller is this interval's probe (probe true) or the
// destination resumed. It returns ctx's error when ctx ends first.
func (g *gate) enter(ctx context.Context) (probe bool, err error) {
	for {
		g.mu.Lock()
		if !g.paused {
			g.mu.Unlock()
			return false, nil
		}
		now := time.Now()
		if !now.Before(g.probeAt) {
			g.probeAt = now.Add(g.interval)
			g.mu.Unlock()
			return true, nil
		}
		wait, resumed := g.probeAt.Sub(now), g.resumed
		g.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-resumed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		}
		t.Stop()
	}
}

// pause marks the destination misconfigured until a call works; the next probe comes
// one interval from now.
func (g *gate) pause(reason string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused {
		g.paused = true
		g.resumed = make(chan struct{})
		g.gauge.Set(1)
	}
	g.reason = reason
	g.probeAt = time.Now().Add(g.interval)
}

// works records that a call reached the destination with an answer that is not a
// destination problem: the destination resumes.
func (g *gate) works() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused {
		g.paused = false
		g.reason = ""
		close(g.resumed)
		g.gauge.Set(0)
	}
}

// probeEnded lets another message probe at once when a probe ended without a verdict.
func (g *gate) probeEnded() {
	g.mu.Lock()
	g.probeAt = time.Now()
	g.mu.Unlock()
}

// state reports whether the destination is paused, and why.
func (g *gate) state() (paused bool, reason string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused, g.reason
}
