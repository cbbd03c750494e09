package ledger

import (
	"context"
	"strings"
	"sync"
)

// maxBatch is the most operations one script call carries. It bounds how long one call
// holds Redis, which serves nothing else meanwhile: a few microseconds per operation.
const maxBatch = 128

// batcher sends the operations of concurrent callers together (Options.Batch). While one
// script call is under way, the operations that arrive wait; when it has answered, they
// all go in the next one. It never waits for more: an operation that finds no call under
// way is sent at once, so batching only ever shares work that was waiting anyway.
//
// An operation whose caller's context ends before its batch is sent is not sent (it
// answers the context's error); once sent, the caller waits for the answer, bounded by
// the client's timeouts, so that it never misses a write the call made.
type batcher struct {
	exec func(context.Context, ...[]*call)
	// byTag: the client spreads keys over servers (Cluster, Ring, or a client that hides
	// which), so one script call carries the operations of one hash tag only.
	byTag bool

	mu      sync.Mutex
	queue   []*call
	running bool // a flush loop is sending the queue
}

// do queues c and returns once it has its answer.
func (b *batcher) do(ctx context.Context, c *call) {
	c.ctx, c.done = ctx, make(chan struct{})
	b.mu.Lock()
	b.queue = append(b.queue, c)
	start := !b.running
	b.running = true
	b.mu.Unlock()
	if start {
		go b.flush()
	}
	<-c.done
}

// flush sends the queue, at most maxBatch operations per script call, until it is empty.
func (b *batcher) flush() {
	for {
		b.mu.Lock()
		batch := b.queue
		if len(batch) > maxBatch {
			batch, b.queue = batch[:maxBatch:maxBatch], batch[maxBatch:]
		} else {
			b.queue = nil
		}
		if len(batch) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		b.send(batch)
	}
}

// send runs batch's live operations, one script call per hash tag when byTag (the calls
// in one pipeline), and answers every one of them.
func (b *batcher) send(batch []*call) {
	live := batch[:0]
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.err = err
			close(c.done)
			continue
		}
		live = append(live, c)
	}
	// The batch's callers have their own deadlines; the call runs on none of them, so
	// that one caller's end does not fail the others.
	ctx := context.Background()
	switch {
	case len(live) == 0:
	case !b.byTag:
		b.exec(ctx, live)
	default:
		byTag := map[string][]*call{}
		for _, c := range live {
			tag := hashTag(c.span.keys[0])
			byTag[tag] = append(byTag[tag], c)
		}
		groups := make([][]*call, 0, len(byTag))
		for _, g := range byTag {
			groups = append(groups, g)
		}
		b.exec(ctx, groups...)
	}
	for _, c := range live {
		close(c.done)
	}
}

// hashTag returns key's Redis Cluster hash tag: everything up to the first '}'.
func hashTag(key string) string {
	return key[:strings.IndexByte(key, '}')+1]
}
