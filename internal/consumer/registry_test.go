package consumer

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/invitepipe/invitepipe/internal/lane"
	"github.com/invitepipe/invitepipe/internal/metrics"
)

// TestRegistryMetrics checks the lane metrics the partitions' figures add up to, in
// particular that they clear once the last partition holding a lane back opens it,
// whether or not it still had messages then.
func TestRegistryMetrics(t *testing.T) {
	type publish struct {
		partition int
		stats     map[string]laneStat
	}
	budget := func(count int) map[string]laneStat {
		return map[string]laneStat{"b": {count: count, oldest: 1, reason: lane.Budget}}
	}
	tests := []struct {
		name                      string
		publishes                 []publish
		wantDeferred, wantWaiting float64
	}{
		{"messages held back", []publish{{0, budget(3)}, {1, budget(2)}}, 5, 1},
		{"held back, then open", []publish{{0, budget(3)}, {0, nil}}, 0, 0},
		{"a probe under way holds the lane without messages", []publish{{0, budget(0)}}, 0, 1},
		{"the probe worked: the lane opens", []publish{{0, budget(3)}, {0, budget(0)}, {0, nil}}, 0, 0},
		{"one partition opens, another still holds", []publish{{0, budget(0)}, {1, budget(2)}, {0, nil}}, 2, 1},
		{"both open", []publish{{0, budget(0)}, {1, budget(2)}, {0, nil}, {1, nil}}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := metrics.New("test")
			r := newRegistry(m)
			for _, p := range tc.publishes {
				r.publish(p.partition, p.stats, 0)
			}
			deferred := testutil.ToFloat64(m.DeferredMessages.WithLabelValues("b"))
			waiting := testutil.ToFloat64(m.DestinationWaiting.WithLabelValues("b", string(lane.Budget)))
			if deferred != tc.wantDeferred || waiting != tc.wantWaiting {
				t.Fatalf("deferred %v, waiting{budget} %v; want %v, %v", deferred, waiting, tc.wantDeferred, tc.wantWaiting)
			}
		})
	}
}
