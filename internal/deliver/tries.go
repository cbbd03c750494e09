package deliver

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// try is what a message's earlier attempts leave for its next one: a deferred message
// keeps its attempt count, its retry budget's start and its ledger owner token (so a
// reservation it could not release, Redis being down, is still its own next time, not a
// stranger's that would expire into an unknown outcome).
type try struct {
	owner    string
	attempts int // calls made, as the dead-letter header reports them
	failures int // calls that failed in a way the retry budget counts
	// failingSince is when the first counted failure happened: the elapsed budget runs
	// from there, not from the time spent waiting on the destination.
	failingSince time.Time
	lastErr      error
	held         int // tries that could not go on: the reference Busy, the rate limiter down
	touched      time.Time
}

// tries holds the try of every message that has one, until it has its outcome. A message
// whose partition moved to another member leaves its try behind; such tries are swept
// once untouched for sweepAfter.
type tries struct {
	mu    sync.Mutex
	byMsg map[msgID]*try
	adds  int
}

// msgID is a message's place in its topic.
type msgID struct {
	partition int
	offset    int64
}

const sweepAfter = 24 * time.Hour

func newTries() *tries { return &tries{byMsg: map[msgID]*try{}} }

func idOf(m kafka.Message) msgID { return msgID{m.Partition, m.Offset} }

// get returns msg's try, a fresh one when it has none. It is stored only by keep.
func (t *tries) get(m kafka.Message) *try {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr := t.byMsg[idOf(m)]; tr != nil {
		return tr
	}
	return &try{}
}

// keep stores msg's try for its next attempt.
func (t *tries) keep(m kafka.Message, tr *try) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr.touched = time.Now()
	t.byMsg[idOf(m)] = tr
	if t.adds++; t.adds%4096 == 0 {
		for id, old := range t.byMsg {
			if time.Since(old.touched) > sweepAfter {
				delete(t.byMsg, id)
			}
		}
	}
}

// done forgets msg's try: it has its outcome.
func (t *tries) done(m kafka.Message) {
	t.mu.Lock()
	delete(t.byMsg, idOf(m))
	t.mu.Unlock()
}

// failed counts a call against the retry budget.
func (tr *try) failed(err error) {
	if tr.failures == 0 {
		tr.failingSince = time.Now()
	}
	tr.failures++
	tr.lastErr = err
}

// backoff is the delay after n failed tries in a row: exponential in n up to BackoffMax,
// full jitter.
func (h *Handler) backoff(n int) time.Duration {
	ceiling := h.cfg.Backoff << min(n, 20)
	if ceiling > h.cfg.BackoffMax || ceiling <= 0 {
		ceiling = h.cfg.BackoffMax
	}
	return h.cfg.Backoff/2 + rand.N(ceiling)
}
