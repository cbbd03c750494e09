package deliver

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newTestGate(interval time.Duration) (*gate, prometheus.Gauge) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "paused", Help: "x"})
	return newGate(interval, g), g
}

func TestGateOpenPassesEveryone(t *testing.T) {
	g, gauge := newTestGate(time.Hour)
	for range 3 {
		probe, err := g.enter(context.Background())
		if err != nil || probe {
			t.Fatalf("enter on an open gate = %v, %v; want no probe, no error", probe, err)
		}
	}
	if testutil.ToFloat64(gauge) != 0 {
		t.Error("gauge is not 0 on an open gate")
	}
}

// TestGatePausedLetsOneProbeAndResumesAll pauses the gate with many waiters: exactly one
// becomes the probe after the interval, the others wait until it reports success.
func TestGatePausedLetsOneProbeAndResumesAll(t *testing.T) {
	g, gauge := newTestGate(time.Hour)
	g.pause("403 forbidden")
	g.probeEnded() // the first probe may go at once
	if paused, reason := g.state(); !paused || reason != "403 forbidden" || testutil.ToFloat64(gauge) != 1 {
		t.Fatalf("state after pause = %v %q, gauge %v", paused, reason, testutil.ToFloat64(gauge))
	}
	const waiters = 20
	var probes, passed atomic.Int32
	probeIn := make(chan struct{})
	var wg sync.WaitGroup
	for range waiters {
		wg.Go(func() {
			probe, err := g.enter(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			if probe {
				probes.Add(1)
				close(probeIn)
				return
			}
			passed.Add(1)
		})
	}
	<-probeIn
	// Within the interval nobody else passes until the probe reports.
	if passed.Load() != 0 || probes.Load() != 1 {
		t.Fatalf("while probing: %d passed, %d probes; want 0 and 1", passed.Load(), probes.Load())
	}
	g.works()
	wg.Wait()
	if passed.Load() != waiters-1 || probes.Load() != 1 {
		t.Errorf("after success: %d passed, %d probes; want %d and 1", passed.Load(), probes.Load(), waiters-1)
	}
	if testutil.ToFloat64(gauge) != 0 {
		t.Error("gauge not back to 0 after the destination resumed")
	}
}

func TestGateFailedProbePausesAgainAndEndedProbeLetsAnother(t *testing.T) {
	g, _ := newTestGate(10 * time.Millisecond)
	g.pause("404")
	probe, _ := g.enter(context.Background())
	if !probe {
		t.Fatal("first entrant after the interval is not the probe")
	}
	g.pause("404 again") // the probe failed: a new interval starts
	probe, _ = g.enter(context.Background())
	if !probe {
		t.Fatal("no probe after the second interval")
	}
	g.probeEnded() // e.g. the probe turned out to be a duplicate
	probe, _ = g.enter(context.Background())
	if !probe {
		t.Fatal("an ended probe did not let another message probe")
	}
}

// TestGateLostProbeCostsOneInterval: a probe that never reports does not hold the
// destination forever.
func TestGateLostProbeCostsOneInterval(t *testing.T) {
	g, _ := newTestGate(10 * time.Millisecond)
	g.pause("403")
	if probe, _ := g.enter(context.Background()); !probe {
		t.Fatal("no first probe")
	}
	// The probe vanishes without works, pause or probeEnded.
	if probe, _ := g.enter(context.Background()); !probe {
		t.Fatal("no second probe after a lost one")
	}
}

func TestGateEnterStopsWithContext(t *testing.T) {
	g, _ := newTestGate(time.Hour)
	g.pause("403")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := g.enter(ctx); errc <- err }()
	cancel()
	select {
	case err := <-errc:
		if err != context.Canceled {
			t.Errorf("enter = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("enter did not return after cancel")
	}
}
