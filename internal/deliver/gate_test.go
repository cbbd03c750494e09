package deliver

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/invitepipe/invitepipe/internal/lane"
)

func newTestGate(interval time.Duration) (*gate, prometheus.Gauge) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "paused", Help: "x"})
	return newGate("shop-eu", interval, g), g
}

// TestGate walks the gate's state table on a hand-moved time line.
func TestGate(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type try struct {
		at        time.Duration
		backfill  bool // a backfill row tries
		wantProbe bool
		wantWait  lane.Reason // "" : passes
	}
	tests := []struct {
		name  string
		setup func(g *gate)
		tries []try
	}{
		{name: "open passes everyone", setup: func(*gate) {},
			tries: []try{{at: 0}, {at: 0}, {at: time.Hour}}},
		{name: "a budget hold refuses until it ends", setup: func(g *gate) { g.hold(at(10*time.Second), lane.Budget, false) },
			tries: []try{{at: 0, wantWait: lane.Budget}, {at: 9 * time.Second, wantWait: lane.Budget}, {at: 10 * time.Second}}},
		{name: "a shorter hold never shortens a longer one", setup: func(g *gate) {
			g.hold(at(time.Minute), lane.Budget, false)
			g.hold(at(time.Second), lane.Budget, false)
		}, tries: []try{{at: 30 * time.Second, wantWait: lane.Budget}, {at: time.Minute}}},
		{name: "a budget wait during a cool-down keeps it cooling", setup: func(g *gate) {
			g.hold(at(time.Second), lane.Cooling, false)
			g.hold(at(10*time.Second), lane.Budget, false)
		}, tries: []try{{at: 5 * time.Second, wantWait: lane.Cooling}, {at: 10 * time.Second, wantProbe: true}}},
		{name: "after a cool-down one call tries the key, the others wait for its answer", setup: func(g *gate) { g.hold(at(10*time.Second), lane.Cooling, false) },
			tries: []try{{at: 0, wantWait: lane.Cooling}, {at: 10 * time.Second, wantProbe: true},
				{at: 10 * time.Second, wantWait: lane.Cooling}, {at: 10*time.Second + coolingProbe, wantProbe: true}}},
		{name: "a backfill row's budget wait holds back backfill rows only", setup: func(g *gate) { g.hold(at(10*time.Second), lane.Budget, true) },
			tries: []try{{at: 0, backfill: true, wantWait: lane.Budget}, {at: 0}, {at: 9 * time.Second, backfill: true, wantWait: lane.Budget},
				{at: 10 * time.Second, backfill: true}}},
		{name: "a fresh row's budget wait holds back backfill rows too", setup: func(g *gate) { g.hold(at(10*time.Second), lane.Budget, false) },
			tries: []try{{at: 0, backfill: true, wantWait: lane.Budget}, {at: 0, wantWait: lane.Budget}, {at: 10 * time.Second, backfill: true}}},
		{name: "a cool-down holds back backfill rows, which never probe before fresh ones", setup: func(g *gate) {
			g.hold(at(10*time.Second), lane.Cooling, false)
			g.hold(at(20*time.Second), lane.Budget, true)
		}, tries: []try{{at: 5 * time.Second, backfill: true, wantWait: lane.Cooling}, {at: 10 * time.Second, backfill: true, wantWait: lane.Budget},
			{at: 10 * time.Second, wantProbe: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _ := newTestGate(time.Hour)
			tt.setup(g)
			for i, tr := range tt.tries {
				probe, w := g.enter(at(tr.at), tr.backfill)
				switch {
				case tr.wantWait == "" && w != nil:
					t.Fatalf("try %d at %v: refused (%v); want a pass", i, tr.at, w)
				case tr.wantWait != "" && (w == nil || w.Reason != tr.wantWait):
					t.Fatalf("try %d at %v: wait %v; want reason %s", i, tr.at, w, tr.wantWait)
				case w != nil && (w.Lane == "shop-eu/backfill") != tr.backfill:
					t.Fatalf("try %d at %v: waits on lane %q; want the backfill lane only for a backfill row", i, tr.at, w.Lane)
				case probe != tr.wantProbe:
					t.Fatalf("try %d at %v: probe %v; want %v", i, tr.at, probe, tr.wantProbe)
				}
			}
		})
	}
}

// TestGatePausedLetsOneProbePerInterval pauses the gate: only the first message after
// each interval probes, the others wait until the next probe time; a call that works
// resumes everyone.
func TestGatePausedLetsOneProbePerInterval(t *testing.T) {
	const interval = 50 * time.Millisecond
	g, gauge := newTestGate(interval)
	w := g.pause("403 forbidden", false)
	if paused, reason := g.state(); !paused || reason != "403 forbidden" || testutil.ToFloat64(gauge) != 1 {
		t.Fatalf("state after pause = %v %q, gauge %v", paused, reason, testutil.ToFloat64(gauge))
	}
	if w.Reason != lane.Paused || w.Until.Before(time.Now()) {
		t.Fatalf("pause wait = %v; want paused until the next probe time", w)
	}
	if _, w2 := g.enter(time.Now(), false); w2 == nil || !w2.Until.Equal(w.Until) {
		t.Fatalf("enter before the probe time = %v; want the wait until %v", w2, w.Until)
	}
	probes := 0
	for range 20 {
		if probe, _ := g.enter(w.Until, false); probe {
			probes++
		}
	}
	if probes != 1 {
		t.Fatalf("%d probes at the probe time; want 1", probes)
	}
	g.probeEnded()
	if probe, w := g.enter(time.Now(), false); !probe || w != nil {
		t.Fatalf("after a probe without a verdict: probe %v, wait %v; want another probe at once", probe, w)
	}
	g.works()
	if probe, w := g.enter(time.Now(), false); probe || w != nil || testutil.ToFloat64(gauge) != 0 {
		t.Fatalf("after works: probe %v, wait %v, gauge %v; want an open gate", probe, w, testutil.ToFloat64(gauge))
	}
}

// TestGateCoolingEndsWhenTheKeyAnswers: the call that tries the key after its cool-down
// opens the gate for everyone once it is answered without a 429.
func TestGateCoolingEndsWhenTheKeyAnswers(t *testing.T) {
	g, _ := newTestGate(time.Hour)
	g.hold(time.Now().Add(-time.Millisecond), lane.Cooling, false)
	if probe, w := g.enter(time.Now(), false); !probe || w != nil {
		t.Fatalf("first call after the cool-down: probe %v, wait %v; want the probe", probe, w)
	}
	if _, w := g.enter(time.Now(), false); w == nil || w.Reason != lane.Cooling {
		t.Fatalf("second call while the probe is out: %v; want a cooling wait", w)
	}
	g.works()
	for range 3 {
		if probe, w := g.enter(time.Now(), false); probe || w != nil {
			t.Fatalf("after the probe was answered: probe %v, wait %v; want an open gate", probe, w)
		}
	}
}
