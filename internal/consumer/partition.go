package consumer

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/lane"
	"github.com/invitepipe/invitepipe/internal/progress"
)

// kind is what a dispatched message is for.
type kind uint8

const (
	handle kind = iota // an ordinary message
	probe              // the one message that tries a lane whose wait is over
	expire             // a message deferred too long: dead-lettered, never sent
)

// task is a message ready to be dispatched.
type task struct {
	msg  kafka.Message
	kind kind
	lane string // the lane it was deferred on, for probes
}

// result is a dispatched message back from its handler.
type result struct {
	task
	err error
}

// want is a released message whose body must be read again from Kafka.
type want struct {
	offset int64
	kind   kind
	lane   string
}

// errorRetry is how long a message whose handler gave up without an outcome (not a
// Wait) stays aside before it is tried again in the same generation.
const errorRetry = 5 * time.Second

// statsInterval is how often a partition publishes its deferral figures and expires
// messages deferred too long.
const statsInterval = time.Second

// partition is one assigned partition for one generation. Its state is owned by run's
// goroutine: fetched messages, handler results and re-read messages reach it through
// channels.
type partition struct {
	c   *Consumer
	id  int
	gen int32
	log zerolog.Logger
	com *committer

	wm       *watermark
	lanes    map[string]*laneState
	inflight int      // dispatched and without a result yet, queued included
	queued   []work   // dispatched, waiting for a worker
	turn     []string // releaseDue's lanes, kept to spare an allocation per call
	ready    []task   // released with a body, waiting for a slot
	wanted   []want   // released without a body, waiting to be read again
	deferred int      // messages in the lanes' heaps
	scanning bool     // a rescan is running
	hwm      int64    // the partition's high watermark, as last seen

	// known are the offsets a previous owner recorded done (Config.Progress); skipped
	// counts those skipped, saved whether the last outcomes are recorded.
	known   progress.Snapshot
	skipped int
	saved   bool

	results   chan result
	rescanned chan rescanItem
	wakeTimer *time.Timer
	wakeAt    time.Time
}

// run fetches, dispatches and defers until the generation ends, then drains in-flight
// messages and leaves the deferred ones uncommitted.
func (p *partition) run(gctx context.Context, start int64) {
	reader := p.c.newReader(p.id, start)
	defer reader.Close()

	// hard ends the handlers' calls: DrainTimeout after the generation ends.
	hard, cancelHard := context.WithCancel(context.Background())
	defer cancelHard()
	draining, startDraining := context.WithCancel(hard)
	defer startDraining()

	p.wm = newWatermark(start)
	p.load(gctx)
	p.lanes = map[string]*laneState{}
	p.results = make(chan result, p.c.cfg.PartitionInflight) // each in-flight message sends once
	p.rescanned = make(chan rescanItem)
	p.wakeTimer = time.NewTimer(time.Hour)
	defer p.wakeTimer.Stop()
	tick := time.NewTicker(statsInterval)
	defer tick.Stop()
	defer p.forget()

	fetched := make(chan kafka.Message)
	go p.c.fetch(gctx, reader, fetched)

	for {
		p.fill(hard, draining, gctx)
		p.handOver()
		if p.deferred > 0 {
			p.rearm()
		}
		var workCh chan<- work
		var next work
		if len(p.queued) > 0 {
			workCh, next = p.c.work, p.queued[0]
		}
		var fetchCh <-chan kafka.Message
		var rescanCh <-chan rescanItem
		if p.inflight < p.c.cfg.PartitionInflight {
			rescanCh = p.rescanned
			if len(p.ready) == 0 {
				fetchCh = fetched
			}
		}
		select {
		case workCh <- next:
			p.taken()
		case msg := <-fetchCh:
			p.arrive(hard, draining, msg)
		case r := <-p.results:
			p.finish(r, gctx)
		case it := <-rescanCh:
			p.reread(hard, draining, it)
		case <-p.wakeTimer.C:
			p.wakeAt = time.Time{}
			p.wake()
		case <-p.c.lanes.watch():
			p.heard()
		case <-tick.C:
			p.expire()
			p.publish()
			p.save()
		case <-gctx.Done():
			startDraining()
			p.drain(hard, cancelHard)
			p.save()
			return
		}
	}
}

// arrive takes a freshly fetched message and dispatches it. A message of a waiting lane
// is dispatched too: the handler answers its wait from memory, after it has dead-lettered
// the rows that need no call (malformed, invalid, stale), so those never wait.
func (p *partition) arrive(hard, draining context.Context, msg kafka.Message) {
	p.c.progress()
	if !p.wm.fetched(msg.Offset) {
		return // a redelivery of an offset already fetched in this generation
	}
	p.hwm = max(p.hwm, msg.HighWaterMark)
	if p.known.Has(msg.Offset) {
		p.skipped++
		p.com.set(p.id, p.wm.done(msg.Offset))
		return
	}
	p.com.set(p.id, p.wm.committable())
	p.dispatch(hard, draining, task{msg: msg, kind: handle})
}

// dispatch hands t to the handler: queued until a worker takes it (handOver).
func (p *partition) dispatch(hard, draining context.Context, t task) {
	p.inflight++
	p.queued = append(p.queued, work{p: p, hard: hard, draining: draining, task: t})
}

// handOver gives queued messages to the workers that are idle now, without waiting.
func (p *partition) handOver() {
	for len(p.queued) > 0 {
		select {
		case p.c.work <- p.queued[0]:
			p.taken()
		default:
			return
		}
	}
}

// taken drops the first queued message, which a worker took.
func (p *partition) taken() {
	p.queued[0] = work{}
	p.queued = p.queued[1:]
	if len(p.queued) == 0 {
		p.queued = nil // let the array go
	}
}

// finish acts on a handler's answer: an outcome moves the watermark, a Wait defers the
// message (and, for a lane's wait, holds the lane back), anything else leaves the
// message without an outcome to be tried again later.
func (p *partition) finish(r result, gctx context.Context) {
	p.inflight--
	w := lane.As(r.err)
	if r.kind == probe {
		p.probeEnded(r.lane, w, r.err)
	}
	switch {
	case r.err == nil:
		p.c.progress()
		p.saved = false
		p.com.set(p.id, p.wm.done(r.msg.Offset))
	case w != nil && w.Own():
		p.deferMsg(p.lane(w.Lane), r.msg, w.Until.UnixNano())
	case w != nil:
		l := p.lane(w.Lane)
		l.close(w.Until, w.Reason, p.c.lanes.seq(w.Lane))
		p.deferMsg(l, r.msg, 0)
	case gctx.Err() != nil:
		// The generation is ending: the message stays uncommitted for the next owner.
	default:
		p.log.Warn().Err(r.err).Int64("offset", r.msg.Offset).Dur("retry_in", errorRetry).Msg("message left without an outcome; it will be tried again")
		p.deferMsg(p.lane(""), r.msg, time.Now().Add(errorRetry).UnixNano())
	}
}

// probeEnded opens the probed lane unless the probe met a wait of the lane again.
func (p *partition) probeEnded(name string, w *lane.Wait, err error) {
	l := p.lanes[name]
	if l == nil || !l.probing {
		return
	}
	switch {
	case w != nil && !w.Own():
		// finish closes the lane again.
	case err != nil && w == nil:
		// No verdict: let another message probe after a while.
		l.close(time.Now().Add(errorRetry), l.reason, p.c.lanes.seq(name))
	default:
		l.reopen()
		p.c.lanes.opened(name)
	}
}

// lane returns the state of the lane name, creating it open.
func (p *partition) lane(name string) *laneState {
	l := p.lanes[name]
	if l == nil {
		l = &laneState{name: name}
		p.lanes[name] = l
	}
	return l
}

// deferMsg keeps msg aside in l until due (0: until l opens). Its body is kept while the
// process holds fewer than MaxDeferredBodies; past that only its offset is.
func (p *partition) deferMsg(l *laneState, msg kafka.Message, due int64) {
	e := entry{offset: msg.Offset, due: due, ts: msg.Time.UnixNano()}
	if p.c.bodies.Add(1) <= int64(p.c.cfg.MaxDeferredBodies) {
		e.msg = &msg
	} else {
		p.c.bodies.Add(-1)
	}
	l.push(e)
	p.deferred++
	p.touch(l.wakeAt(time.Now().UnixNano()))
}

// release takes e out of its lane for dispatch as k: at once with its body, else once
// it is read again.
func (p *partition) release(e entry, k kind, name string) {
	p.deferred--
	if e.msg == nil {
		p.wanted = append(p.wanted, want{offset: e.offset, kind: k, lane: name})
		return
	}
	p.c.bodies.Add(-1)
	p.ready = append(p.ready, task{msg: *e.msg, kind: k, lane: name})
}

// fill dispatches what is ready, then the due waiters of open lanes, while the
// partition has free slots, and starts a rescan for released messages without bodies.
func (p *partition) fill(hard, draining, gctx context.Context) {
	p.dispatchReady(hard, draining)
	if p.deferred > 0 { // the common case, nothing waits, needs no look at the lanes
		p.releaseDue()
		p.dispatchReady(hard, draining)
	}
	if len(p.wanted) > 0 && !p.scanning {
		p.scanning = true
		batch := p.wanted
		p.wanted = nil
		slices.SortFunc(batch, func(a, b want) int { return cmp.Compare(a.offset, b.offset) })
		go p.c.rescan(gctx, p.id, batch, p.rescanned)
	}
}

// releaseDue releases the due waiters of the open lanes while the partition has free
// slots, a message of each lane in turn, so that the lanes share the slots, and the calls
// they lead to (a budget two destinations share), instead of the first lane taking all.
func (p *partition) releaseDue() {
	now := time.Now().UnixNano()
	turn := p.turn[:0]
	for name, l := range p.lanes { // in random order: no lane always goes first
		if l.open() && l.due(now) {
			turn = append(turn, name)
		}
	}
	for len(turn) > 0 {
		next := turn[:0]
		for _, name := range turn {
			if p.inflight+len(p.ready) >= p.c.cfg.PartitionInflight {
				p.turn = turn[:0]
				return
			}
			l := p.lanes[name]
			if l.waiting[0].msg == nil && len(p.wanted) >= p.c.cfg.RescanBatch {
				continue // the next rescan takes the lane's waiters
			}
			p.release(l.pop(), handle, name)
			if l.due(now) {
				next = append(next, name)
			}
		}
		turn = next
	}
	p.turn = turn[:0]
}

// dispatchReady dispatches the ready messages while the partition has free slots.
func (p *partition) dispatchReady(hard, draining context.Context) {
	for len(p.ready) > 0 && p.inflight < p.c.cfg.PartitionInflight {
		t := p.ready[0]
		p.ready[0] = task{}
		p.ready = p.ready[1:]
		p.dispatch(hard, draining, t)
	}
	if len(p.ready) == 0 {
		p.ready = nil // let the array go
	}
}

// wake handles lanes whose time came: a closed lane lets one waiter probe it (or opens
// when none is due); an open lane's due waiters are taken by fill.
func (p *partition) wake() {
	now := time.Now()
	for name, l := range p.lanes {
		if l.until.IsZero() || now.Before(l.until) {
			continue
		}
		l.until = time.Time{}
		if !l.due(now.UnixNano()) {
			continue // nothing to probe with: the next message of the lane probes
		}
		l.probing = true
		p.release(l.pop(), probe, name)
	}
}

// heard opens the closed lanes that another partition found working.
func (p *partition) heard() {
	for name, l := range p.lanes {
		if !l.open() && !l.probing && p.c.lanes.seq(name) > l.seq {
			l.reopen()
		}
	}
}

// touch makes sure the wake timer fires by at (zero: no need).
func (p *partition) touch(at time.Time) {
	if !at.IsZero() && (p.wakeAt.IsZero() || at.Before(p.wakeAt)) {
		p.wakeAt = at
		p.wakeTimer.Reset(max(time.Until(at), 0))
	}
}

// rearm points the wake timer at the earliest lane that needs attention.
func (p *partition) rearm() {
	var next time.Time
	now := time.Now().UnixNano()
	for _, l := range p.lanes {
		if at := l.wakeAt(now); !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	if !next.Equal(p.wakeAt) {
		p.wakeAt = time.Time{}
		p.touch(next)
	}
}

// reread takes a message read again from Kafka: dispatched, unless its lane closed
// meanwhile (then deferred again), or recorded lost when Kafka no longer had it.
func (p *partition) reread(hard, draining context.Context, it rescanItem) {
	if it.done {
		p.scanning = false
		return
	}
	if it.lost {
		// Kafka deleted it (retention) before its turn: nothing can send it now.
		p.c.metrics.Lost.Inc()
		p.log.Error().Int64("offset", it.want.offset).Str("destination", it.want.lane).
			Msg("a deferred message was deleted by Kafka's retention before it could be read again; raise retention or lower INVITEPIPE_DEFER_MAX_AGE")
		p.com.set(p.id, p.wm.done(it.want.offset))
		return
	}
	if l := p.lanes[it.want.lane]; it.want.kind == handle && l != nil && !l.open() {
		p.deferMsg(l, it.msg, 0)
		return
	}
	p.dispatch(hard, draining, task{msg: it.msg, kind: it.want.kind, lane: it.want.lane})
}

// expire takes the waiters older than DeferMaxAge out of their lanes to be
// dead-lettered.
func (p *partition) expire() {
	if p.c.cfg.DeferMaxAge <= 0 {
		return
	}
	cutoff := time.Now().Add(-p.c.cfg.DeferMaxAge).UnixNano()
	for name, l := range p.lanes {
		if o := l.oldest(); o == 0 || o >= cutoff {
			continue
		}
		for _, e := range l.expire(cutoff) {
			p.release(e, expire, name)
		}
	}
}

// publish sends this partition's deferral figures and actionable lag to the registry.
func (p *partition) publish() {
	stats := map[string]laneStat{}
	for name, l := range p.lanes {
		s := laneStat{count: len(l.waiting), oldest: l.oldest()}
		if !l.open() {
			s.reason = l.reason
		} else if s.count > 0 {
			s.reason = lane.Retry
		}
		if s.count > 0 || s.reason != "" {
			stats[name] = s
		}
	}
	lag := max(p.hwm-p.wm.next, 0) + int64(p.inflight+len(p.ready)+len(p.wanted))
	p.c.lanes.publish(p.id, stats, lag)
}

// drain waits for in-flight messages until the drain deadline; deferred messages stay
// uncommitted (the next owner reads them again).
func (p *partition) drain(hard context.Context, cancelHard context.CancelFunc) {
	// Queued messages were never handled: they stay uncommitted.
	p.inflight -= len(p.queued)
	p.queued = nil
	deadline := time.AfterFunc(p.c.cfg.DrainTimeout, cancelHard)
	defer deadline.Stop()
	for p.inflight > 0 {
		select {
		case r := <-p.results:
			p.inflight--
			if r.err == nil {
				p.saved = false
				p.com.set(p.id, p.wm.done(r.msg.Offset))
			}
		case <-hard.Done():
			p.log.Warn().Int("inflight", p.inflight).Msg("drain deadline passed; uncommitted messages will be delivered again")
			return
		}
	}
}

// forget gives back the bodies its deferred messages held and withdraws its figures.
func (p *partition) forget() {
	var bodies int64
	for _, l := range p.lanes {
		for _, e := range l.waiting {
			if e.msg != nil {
				bodies++
			}
		}
	}
	p.c.bodies.Add(-bodies)
	p.c.lanes.publish(p.id, nil, -1)
	if p.skipped > 0 {
		p.log.Info().Int("skipped", p.skipped).Msg("offsets a previous owner had done were skipped")
	}
}

// progressTimeout bounds one load or save of the partition's progress record.
const progressTimeout = 5 * time.Second

// load reads the offsets a previous owner recorded done. Without the record (or Redis)
// every message after the committed offset is handled again: the ledger makes that
// harmless, only slower.
func (p *partition) load(gctx context.Context) {
	if p.c.cfg.Progress == nil {
		return
	}
	ctx, cancel := context.WithTimeout(gctx, progressTimeout)
	defer cancel()
	snap, err := p.c.cfg.Progress.Load(ctx, p.c.cfg.Group, p.c.cfg.Topic, p.id)
	if err != nil {
		p.log.Warn().Err(err).Msg("cannot read which offsets past the committed one are done; handling them again")
		return
	}
	p.known = snap
}

// save records the offsets done past the watermark, once new outcomes came in and the
// partition has read past what the previous owner recorded (so nothing it knew is lost).
func (p *partition) save() {
	if p.c.cfg.Progress == nil || p.saved || p.wm.next < p.known.From+int64(len(p.known.Done))*8 {
		return
	}
	from, done, beyond := p.wm.snapshot()
	p.saved = true
	if !beyond {
		return // the committed offset says it all
	}
	ctx, cancel := context.WithTimeout(context.Background(), progressTimeout)
	defer cancel()
	if err := p.c.cfg.Progress.Save(ctx, p.c.cfg.Group, p.c.cfg.Topic, p.id, p.gen, progress.Snapshot{From: from, Done: done}); err != nil {
		p.saved = false
		p.log.Debug().Err(err).Msg("recording the offsets done past the committed one")
	}
}
