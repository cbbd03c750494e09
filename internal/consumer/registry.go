package consumer

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/invitepipe/invitepipe/internal/lane"
	"github.com/invitepipe/invitepipe/internal/metrics"
)

// registry is what the partitions of one process share about lanes: word that a lane
// opened (one partition's probe worked, so the others need not probe), and the deferral
// figures each partition publishes, summed into the metrics.
type registry struct {
	metrics *metrics.Metrics

	changed atomic.Pointer[chan struct{}] // closed, and replaced, when a lane opens

	mu      sync.Mutex
	opens   map[string]uint64
	stats   map[string]map[int]laneStat // lane -> partition -> figures
	lag     map[int]int64               // partition -> actionable lag
	waiting map[string]lane.Reason      // lane -> reason exported
}

// laneStat is one partition's figures for one lane.
type laneStat struct {
	count  int
	oldest int64 // unix nanoseconds; 0 when none
	reason lane.Reason
}

func newRegistry(m *metrics.Metrics) *registry {
	r := &registry{metrics: m, opens: map[string]uint64{},
		stats: map[string]map[int]laneStat{}, lag: map[int]int64{}, waiting: map[string]lane.Reason{}}
	ch := make(chan struct{})
	r.changed.Store(&ch)
	return r
}

// watch returns a channel closed when some lane opens next. It takes no lock: every
// partition asks for it once per message.
func (r *registry) watch() <-chan struct{} { return *r.changed.Load() }

// opened records that name works again and wakes every partition.
func (r *registry) opened(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opens[name]++
	ch := make(chan struct{})
	close(*r.changed.Swap(&ch))
}

// seq is how many times name has opened.
func (r *registry) seq(name string) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.opens[name]
}

// publish replaces partition's figures (stats by lane, actionable lag) and updates the
// metrics of every lane they touch.
func (r *registry) publish(partition int, stats map[string]laneStat, lag int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	touched := map[string]bool{}
	for name, byPart := range r.stats {
		if _, ok := byPart[partition]; ok {
			delete(byPart, partition)
			touched[name] = true
		}
	}
	for name, s := range stats {
		if r.stats[name] == nil {
			r.stats[name] = map[int]laneStat{}
		}
		r.stats[name][partition] = s
		touched[name] = true
	}
	if lag < 0 {
		delete(r.lag, partition)
	} else {
		r.lag[partition] = lag
	}
	var total int64
	for _, l := range r.lag {
		total += l
	}
	r.metrics.ActionableLag.Set(float64(total))
	now := time.Now().UnixNano()
	for name := range touched {
		r.export(name, now)
	}
}

// export sets name's metrics from every partition's figures.
func (r *registry) export(name string, now int64) {
	var count int
	var oldest int64
	var reason lane.Reason
	for _, s := range r.stats[name] {
		count += s.count
		if s.oldest != 0 && (oldest == 0 || s.oldest < oldest) {
			oldest = s.oldest
		}
		if s.reason != "" && (reason == "" || reason == lane.Retry) {
			reason = s.reason
		}
	}
	r.metrics.DeferredMessages.WithLabelValues(name).Set(float64(count))
	age := 0.0
	if oldest != 0 {
		age = time.Duration(now - oldest).Seconds()
	}
	r.metrics.DeferredOldest.WithLabelValues(name).Set(age)
	if prev, ok := r.waiting[name]; ok && prev != reason {
		r.metrics.DestinationWaiting.WithLabelValues(name, string(prev)).Set(0)
	}
	if reason != "" {
		r.metrics.DestinationWaiting.WithLabelValues(name, string(reason)).Set(1)
		r.waiting[name] = reason
	} else {
		delete(r.waiting, name)
	}
	// A partition's figures stay while they hold a reason, even with no message (a lane
	// closed or probing): its next publish must find them to clear the lane's metrics.
	if len(r.stats[name]) == 0 {
		delete(r.stats, name)
	}
}

// held reports whether some lane holds messages back for its destination (paused,
// cooling down or out of budget), as opposed to messages retrying on their own.
func (r *registry) held() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, byPart := range r.stats {
		for _, s := range byPart {
			if s.reason != "" && s.reason != lane.Retry {
				return true
			}
		}
	}
	return false
}

// deferred is the number of messages this process holds deferred.
func (r *registry) deferred() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, byPart := range r.stats {
		for _, s := range byPart {
			n += s.count
		}
	}
	return n
}
