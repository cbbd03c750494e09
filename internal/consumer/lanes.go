package consumer

import (
	"container/heap"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/lane"
)

// entry is a deferred message: its offset, when it may be tried again (0: as soon as its
// lane opens), its Kafka timestamp (its age), and its body when one is kept (nil: the
// message is read again from Kafka when its turn comes).
type entry struct {
	offset int64
	due    int64 // unix nanoseconds
	ts     int64 // unix nanoseconds
	msg    *kafka.Message
}

// entries is a min-heap of deferred messages by (due, offset): a lane's own waiters in
// offset order first, then the messages waiting on their own retry time.
type entries []entry

func (h entries) Len() int { return len(h) }
func (h entries) Less(i, j int) bool {
	if h[i].due != h[j].due {
		return h[i].due < h[j].due
	}
	return h[i].offset < h[j].offset
}
func (h entries) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *entries) Push(x any)   { *h = append(*h, x.(entry)) }
func (h *entries) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = entry{}
	*h = old[:len(old)-1]
	return e
}

// laneState is one lane (destination) as one partition sees it:
//
//	state    | its deferred messages     | a Wait for the lane   | the lane's time comes
//	open     | handed over as slots free | closed until Until    | -
//	closed   | kept                      | Until pushed later    | probing: one handed over
//	probing  | kept                      | closed until Until    | -
//
// A probe's outcome, or word from another partition that the lane opened, opens it. New
// messages are handed over in every state: the handler answers a waiting lane's Wait
// from memory.
type laneState struct {
	name    string
	until   time.Time // closed until then; zero while open or probing
	reason  lane.Reason
	probing bool
	seq     uint64 // the registry's open count for this lane when it closed
	waiting entries
}

func (l *laneState) open() bool { return l.until.IsZero() && !l.probing }

// close holds the lane back until until (never earlier than a closure already in place).
func (l *laneState) close(until time.Time, reason lane.Reason, seq uint64) {
	if l.until.IsZero() {
		l.seq = seq // newly closed: only a later opening elsewhere reopens it
	}
	l.probing = false
	if until.After(l.until) {
		l.until = until
	}
	l.reason = reason
}

// reopen opens the lane at once.
func (l *laneState) reopen() {
	l.until, l.probing = time.Time{}, false
}

// push defers e.
func (l *laneState) push(e entry) { heap.Push(&l.waiting, e) }

// due reports whether the lane's first waiter may be tried at now.
func (l *laneState) due(now int64) bool {
	return len(l.waiting) > 0 && l.waiting[0].due <= now
}

// pop takes the lane's first waiter.
func (l *laneState) pop() entry { return heap.Pop(&l.waiting).(entry) }

// wakeAt is when the lane next needs a timer: the end of its closure, or, while open,
// the due time of its first waiter if that is later than now (waiters already due are
// taken as slots free, without a timer). Zero: never.
func (l *laneState) wakeAt(now int64) time.Time {
	switch {
	case !l.until.IsZero():
		return l.until
	case l.probing || len(l.waiting) == 0 || l.waiting[0].due <= now:
		return time.Time{}
	default:
		return time.Unix(0, l.waiting[0].due)
	}
}

// expire removes and returns the waiters whose Kafka timestamp is before cutoff.
func (l *laneState) expire(cutoff int64) []entry {
	var out []entry
	kept := l.waiting[:0]
	for _, e := range l.waiting {
		if e.ts < cutoff {
			out = append(out, e)
		} else {
			kept = append(kept, e)
		}
	}
	if len(out) > 0 {
		clear(l.waiting[len(kept):])
		l.waiting = kept
		heap.Init(&l.waiting)
	}
	return out
}

// oldest is the Kafka timestamp of the oldest waiter (unix nanoseconds), 0 when none.
func (l *laneState) oldest() int64 {
	var o int64
	for _, e := range l.waiting {
		if o == 0 || e.ts < o {
			o = e.ts
		}
	}
	return o
}
