package producer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/source"
)

// Defaults of a Producer's settings.
const (
	DefaultBatchSize = 500
	DefaultLockLease = 30 * time.Second
	// MaxMessage is the largest row message (schemas/row.v1.schema.json): 1 MiB.
	MaxMessage = 1 << 20
	// MaxProblems bounds the invalid rows a Summary describes; all are counted.
	MaxProblems = 20
)

// Writer writes row messages and returns once Kafka acknowledged them all (a kafka.Writer
// with RequiredAcks all).
type Writer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// NewWriter returns the Writer of the rows topic: acks from all in-sync replicas, and the
// partition chosen by murmur2 of the key, as Java clients choose it.
func NewWriter(conn *kafkaconn.Conn, topic string, batchSize int) *kafka.Writer {
	if batchSize < 1 {
		batchSize = DefaultBatchSize
	}
	w := &kafka.Writer{
		Addr:         kafka.TCP(conn.Brokers...),
		Topic:        topic,
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    batchSize,
		BatchBytes:   MaxMessage + 64<<10,
		BatchTimeout: 5 * time.Millisecond,
	}
	if conn.Transport != nil { // a nil *Transport in the interface would not be kafka-go's default
		w.Transport = conn.Transport
	}
	return w
}

// Producer runs activations: each run emits the rows whose primary key it never emitted.
type Producer struct {
	Redis  redis.UniversalClient
	Writer Writer
	// KeyPrefix starts the state's Redis keys; DefaultKeyPrefix when empty.
	KeyPrefix string
	// BatchSize is how many rows are checked, written and recorded together.
	BatchSize int
	// LockLease is how long the lock outlives a silent run; renewed every third of it.
	LockLease time.Duration
	// Now is the clock of emitted_at; time.Now when nil.
	Now func() time.Time

	// afterAck, set by tests, runs after Kafka acknowledged a batch and before the state
	// advances; an error stops the run there, as a crash would.
	afterAck func(ctx context.Context, batch int) error
}

// Job is one activation's source.
type Job struct {
	Activation string
	PrimaryKey string
	Source     source.Source
}

// Summary is what one run did.
type Summary struct {
	Activation string
	// Read counts the source's records, invalid ones included.
	Read int64
	// New counts rows whose key the state did not hold (in a dry run: would be emitted).
	New int64
	// Emitted counts rows Kafka acknowledged.
	Emitted int64
	// Invalid counts records that are not rows, or rows without a usable key.
	Invalid int64
	// Duplicates counts rows whose key came earlier in the same run.
	Duplicates int64
	Duration   time.Duration
	DryRun     bool
	// Problems describe the first MaxProblems invalid records.
	Problems []string
	// Err ends the run early: the source failed, Kafka or Redis did, or the lock is held.
	Err error
}

// RowsPerSecond is the read rate.
func (s Summary) RowsPerSecond() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.Read) / s.Duration.Seconds()
}

func (s *Summary) invalid(problem string) {
	s.Invalid++
	if len(s.Problems) < MaxProblems {
		s.Problems = append(s.Problems, problem)
	}
}

// pending is a row waiting for its batch.
type pending struct {
	hash  uint64
	rowID string
	row   map[string]any
	where string
}

// message is the row contract's value.
type message struct {
	Activation string         `json:"activation"`
	RowID      string         `json:"row_id"`
	EmittedAt  string         `json:"emitted_at"`
	Row        map[string]any `json:"row"`
}

// batchError marks an error of a batch (Redis, Kafka, the state), not of the source.
type batchError struct{ err error }

func (e *batchError) Error() string { return e.err.Error() }
func (e *batchError) Unwrap() error { return e.err }

// Run reads job's source once and emits its new rows. The state advances only after Kafka
// acknowledged them; a dry run takes no lock, writes nothing and changes nothing.
func (p *Producer) Run(ctx context.Context, job Job, dryRun bool) (sum Summary) {
	start := time.Now()
	sum = Summary{Activation: job.Activation, DryRun: dryRun}
	defer func() { sum.Duration = time.Since(start) }()
	state := NewState(p.Redis, p.KeyPrefix, job.Activation)
	var lock *Lock
	if !dryRun {
		var err error
		lock, err = state.Acquire(ctx, p.lease())
		if err != nil {
			sum.Err = err
			return sum
		}
		var stop func()
		ctx, stop = keepLock(ctx, lock)
		defer func() {
			stop()
			if err := lock.Release(context.WithoutCancel(ctx)); err != nil && sum.Err == nil {
				sum.Err = err
			}
		}()
	}
	b := &batcher{ctx: ctx, p: p, job: job, state: state, lock: lock, sum: &sum, runSeen: make(map[uint64]struct{})}
	err := job.Source.Read(ctx, b.add)
	var be *batchError
	if err != nil && !errors.As(err, &be) && context.Cause(ctx) == nil {
		// The source failed: what it read before still goes out.
		if ferr := b.flush(ctx); ferr != nil {
			err = errors.Join(err, ferr)
		}
	} else if err == nil {
		err = b.flush(ctx)
	}
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(err, cause) {
		err = fmt.Errorf("%w (%w)", err, cause)
	}
	sum.Err = err
	return sum
}

func (p *Producer) lease() time.Duration {
	if p.LockLease <= 0 {
		return DefaultLockLease
	}
	return p.LockLease
}

// keepLock renews lock every third of its lease until stop; when a renewal finds the lock
// gone, the returned context ends with ErrFenced.
func keepLock(parent context.Context, lock *Lock) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(lock.lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := lock.Renew(ctx); errors.Is(err, ErrFenced) {
					cancel(ErrFenced)
					return
				}
			}
		}
	}()
	return ctx, func() { close(done); <-finished; cancel(nil) }
}

// batcher turns records into batches.
type batcher struct {
	ctx     context.Context
	p       *Producer
	job     Job
	state   *State
	lock    *Lock // nil in a dry run
	sum     *Summary
	runSeen map[uint64]struct{}
	pending []pending
	batches int
}

func (b *batcher) add(rec source.Record) error {
	b.sum.Read++
	if rec.Err != nil {
		b.sum.invalid(rec.Err.Error())
		return nil
	}
	key, problem := keyText(rec.Row, b.job.PrimaryKey)
	if problem != "" {
		b.sum.invalid(where(rec.Where) + problem)
		return nil
	}
	h := Hash(key)
	if _, dup := b.runSeen[h]; dup {
		b.sum.Duplicates++
		return nil
	}
	b.runSeen[h] = struct{}{}
	b.pending = append(b.pending, pending{hash: h, rowID: key, row: rec.Row, where: rec.Where})
	if len(b.pending) >= b.batchSize() {
		if err := b.flush(b.ctx); err != nil {
			return err
		}
	}
	return nil
}

func (b *batcher) batchSize() int {
	if b.p.BatchSize < 1 {
		return DefaultBatchSize
	}
	return b.p.BatchSize
}

// flush emits the pending rows the state does not hold, then records them.
func (b *batcher) flush(ctx context.Context) error {
	if len(b.pending) == 0 {
		return nil
	}
	defer func() { b.pending = b.pending[:0] }()
	hashes := make([]uint64, len(b.pending))
	for i, r := range b.pending {
		hashes[i] = r.hash
	}
	seen, err := b.state.Seen(ctx, hashes)
	if err != nil {
		return &batchError{err}
	}
	now := time.Now
	if b.p.Now != nil {
		now = b.p.Now
	}
	emittedAt := now().UTC().Format(time.RFC3339Nano)
	var msgs []kafka.Message
	var emitted []uint64
	for i, r := range b.pending {
		if seen[i] {
			continue
		}
		value, err := encode(message{Activation: b.job.Activation, RowID: r.rowID, EmittedAt: emittedAt, Row: r.row})
		if err != nil {
			b.sum.invalid(where(r.where) + err.Error())
			continue
		}
		b.sum.New++
		msgs = append(msgs, kafka.Message{Key: []byte(b.job.Activation + "/" + r.rowID), Value: value})
		emitted = append(emitted, r.hash)
	}
	if b.lock == nil || len(msgs) == 0 {
		return nil
	}
	if err := b.p.Writer.WriteMessages(ctx, msgs...); err != nil {
		return &batchError{fmt.Errorf("kafka: %w", err)}
	}
	b.sum.Emitted += int64(len(msgs))
	b.batches++
	if b.p.afterAck != nil {
		if err := b.p.afterAck(ctx, b.batches); err != nil {
			return &batchError{err}
		}
	}
	if err := b.lock.Advance(ctx, emitted); err != nil {
		return &batchError{err}
	}
	return nil
}

// encode writes a row message, keeping < > & as they are.
func encode(m message) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("row has no JSON form: %w", err)
	}
	value := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(value) > MaxMessage {
		return nil, fmt.Errorf("row message is %d bytes, more than %d", len(value), MaxMessage)
	}
	return value, nil
}

// keyText returns the row's primary key as text, or the problem with it.
func keyText(row map[string]any, column string) (string, string) {
	v, ok := row[column]
	if !ok || v == nil {
		return "", fmt.Sprintf("primary key column %q is missing", column)
	}
	var key string
	switch v := v.(type) {
	case string:
		key = v
	case json.Number:
		key = v.String()
	default:
		return "", fmt.Sprintf("primary key column %q is not a string or a number", column)
	}
	if strings.TrimSpace(key) == "" {
		return "", fmt.Sprintf("primary key column %q is empty", column)
	}
	return key, ""
}

func where(w string) string {
	if w == "" {
		return ""
	}
	return w + ": "
}
