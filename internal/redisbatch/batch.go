package redisbatch

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configures a Batcher.
type Options struct {
	// Max is the most operations in one batch. Default 128.
	Max int
	// Delay is how long a batch waits for more operations before it goes. Default 0: no
	// wait beyond a batch under way.
	Delay time.Duration
	// Group returns the group of an operation's keys (on a Redis Cluster, their hash
	// tag); nil puts a batch's operations in one group, for a client that reaches every
	// key on one server.
	Group func(key string) string
}

// Batcher queues operations of type T and runs them in batches. T carries an
// operation's arguments and, once run, its answer.
type Batcher[T any] struct {
	run  func(ctx context.Context, groups [][]T)
	key  func(T) string
	opts Options

	mu      sync.Mutex
	queue   []*entry[T]
	running bool // a flush loop is sending the queue
}

// entry is a queued operation.
type entry[T any] struct {
	op   T
	ctx  context.Context
	done chan struct{} // closed once run, or skipped
	err  error         // the context's error of a skipped operation
}

// New returns a Batcher whose batches run, one script call per group, in run; run must
// answer every operation it is given. key returns the operation's first key, which
// Options.Group reads.
func New[T any](run func(ctx context.Context, groups [][]T), key func(T) string, opts Options) *Batcher[T] {
	if opts.Max <= 0 {
		opts.Max = 128
	}
	return &Batcher[T]{run: run, key: key, opts: opts}
}

// Do queues op and returns nil once it was run, or ctx.Err() without running it when ctx
// ended before its batch went.
func (b *Batcher[T]) Do(ctx context.Context, op T) error {
	e := &entry[T]{op: op, ctx: ctx, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, e)
	start := !b.running
	b.running = true
	b.mu.Unlock()
	if start {
		go b.flush()
	}
	<-e.done
	return e.err
}

// flush sends the queue, at most Max operations per batch, until it is empty.
func (b *Batcher[T]) flush() {
	for {
		if b.opts.Delay > 0 {
			time.Sleep(b.opts.Delay)
		}
		b.mu.Lock()
		batch := b.queue
		if len(batch) > b.opts.Max {
			batch, b.queue = batch[:b.opts.Max:b.opts.Max], batch[b.opts.Max:]
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

// send runs batch's live operations and answers every one of them.
func (b *Batcher[T]) send(batch []*entry[T]) {
	live := batch[:0]
	for _, e := range batch {
		if e.err = e.ctx.Err(); e.err != nil {
			close(e.done)
			continue
		}
		live = append(live, e)
	}
	if len(live) > 0 {
		b.run(context.Background(), b.groups(live))
	}
	for _, e := range live {
		close(e.done)
	}
}

// groups splits live by Options.Group, keeping their order within a group.
func (b *Batcher[T]) groups(live []*entry[T]) [][]T {
	if b.opts.Group == nil {
		ops := make([]T, len(live))
		for i, e := range live {
			ops[i] = e.op
		}
		return [][]T{ops}
	}
	at := map[string]int{}
	var groups [][]T
	for _, e := range live {
		g := b.opts.Group(b.key(e.op))
		i, ok := at[g]
		if !ok {
			i = len(groups)
			at[g] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], e.op)
	}
	return groups
}

// HashTag returns key's Redis Cluster hash tag: what lies between its first '{' and the
// next '}', or the whole key without one. Keys with one hash tag share a slot.
func HashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// Grouping returns Options.Group for client: nil for a *redis.Client (one server, or a
// Sentinel failover client), which reaches every key; HashTag for any other (Cluster,
// Ring, or a client that hides which it is).
func Grouping(client redis.UniversalClient) func(string) string {
	if _, oneServer := client.(*redis.Client); oneServer {
		return nil
	}
	return HashTag
}

// Eval runs script once per request on client and returns the commands in order: one
// request alone as Script.Run; several in one pipeline of EVALSHA, each request that
// met a server without the script again as Script.Run, which loads it. Each command
// carries its own answer or error.
func Eval(ctx context.Context, client redis.UniversalClient, script *redis.Script, n int, request func(i int) (keys []string, args []any)) []*redis.Cmd {
	cmds := make([]*redis.Cmd, n)
	if n == 1 {
		keys, args := request(0)
		cmds[0] = script.Run(ctx, client, keys, args...)
		return cmds
	}
	_, _ = client.Pipelined(ctx, func(p redis.Pipeliner) error { // each command keeps its error
		for i := range n {
			keys, args := request(i)
			cmds[i] = script.EvalSha(ctx, p, keys, args...)
		}
		return nil
	})
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			keys, args := request(i)
			cmds[i] = script.Run(ctx, client, keys, args...)
		}
	}
	return cmds
}
