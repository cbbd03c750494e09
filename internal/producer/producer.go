package producer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/schollz/progressbar/v3"
	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/row"
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
	// Progress, when not nil, shows each run's rows read, rows/s and new rows as it goes
	// (a terminal: the caller decides); nil shows nothing.
	Progress io.Writer

	// afterAck, set by tests, runs after Kafka acknowledged a batch and before the state
	// advances; an error stops the run there, as a crash would.
	afterAck func(ctx context.Context, batch int) error
}

// Job is one activation's source, and the bounds of this run.
type Job struct {
	Activation string
	PrimaryKey string
	// Cursor is the activation's cursor mode; the zero Cursor is diff mode.
	Cursor Cursor
	Source source.Source
	// Since, in cursor mode with a timestamp cursor, skips the rows whose cursor column
	// is before it: they are neither emitted nor recorded. Zero: no bound.
	Since time.Time
	// Limit, when positive, is the most new rows the run emits; the rest stay new. A
	// backfill run (Backfill) reads on past its limit and holds the rest for the next
	// backfill run: the other runs skip them.
	Limit int64
	// Backfill marks the run's rows "priority": "backfill": the consumer serves each
	// destination's fresh rows before them.
	Backfill bool
}

// errLimit stops a source once the run emitted Job.Limit new rows.
var errLimit = errors.New("the run's limit of new rows is reached")

// check reports a bound the job cannot apply.
func (j Job) check() error {
	switch {
	case j.Limit < 0:
		return fmt.Errorf("the limit %d is negative", j.Limit)
	case !j.Since.IsZero() && !j.Cursor.On():
		return errors.New("--since needs mode: cursor (it compares the cursor column)")
	case !j.Since.IsZero() && j.Cursor.Kind != CursorTime:
		return fmt.Errorf("--since compares timestamps, and cursor column %q holds integers (cursor_lookback is a count)", j.Cursor.Column)
	}
	return nil
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
	// Skipped counts rows below the read bound (cursor mode: the stored cursor less the
	// look-back, or --since) that the source handed over anyway (a file); never recorded.
	Skipped int64
	// LimitReached is set when Job.Limit left new rows: for the next run, or, in a
	// backfill run, held for the next backfill run (Held).
	LimitReached bool
	// Held counts rows held for a backfill: in a limited backfill run, the new rows past
	// its limit, which it holds for the next backfill run; in any other run, the held
	// rows it left to the backfill.
	Held int64
	// Cursor is the activation's cursor after the run (cursor mode; empty before any).
	Cursor   string
	Duration time.Duration
	DryRun   bool
	Backfill bool
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
	hash   uint64
	cursor cursorValue
	rowID  string
	row    map[string]any
	where  string
}

// message is the row contract's value.
type message struct {
	Activation string         `json:"activation"`
	RowID      string         `json:"row_id"`
	EmittedAt  string         `json:"emitted_at"`
	Priority   string         `json:"priority,omitempty"`
	Row        map[string]any `json:"row"`
}

// priority is the row message's priority: "backfill" for a backfill run's rows, else none.
func priority(backfill bool) string {
	if backfill {
		return row.PriorityBackfill
	}
	return ""
}

// batchError marks an error of a batch (Redis, Kafka, the state), not of the source.
type batchError struct{ err error }

func (e *batchError) Error() string { return e.err.Error() }
func (e *batchError) Unwrap() error { return e.err }

// Run reads job's source once and emits its new rows. The state advances only after Kafka
// acknowledged them; a dry run takes no lock, writes nothing and changes nothing.
func (p *Producer) Run(ctx context.Context, job Job, dryRun bool) (sum Summary) {
	start := time.Now()
	sum = Summary{Activation: job.Activation, DryRun: dryRun, Backfill: job.Backfill}
	defer func() { sum.Duration = time.Since(start) }()
	if err := job.check(); err != nil {
		sum.Err = err
		return sum
	}
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
	b := &batcher{ctx: ctx, p: p, job: job, state: state, lock: lock, sum: &sum}
	b.hold = job.Backfill && job.Limit > 0 && !dryRun
	if !job.Backfill {
		var err error
		if b.skipHeld, err = state.Holding(ctx); err != nil {
			sum.Err = err
			return sum
		}
	}
	if job.Cursor.On() {
		text, ok, err := state.Cursor(ctx)
		if err != nil {
			sum.Err = err
			return sum
		}
		if ok {
			v, err := job.Cursor.parse(text)
			if err != nil {
				sum.Err = fmt.Errorf("the stored cursor %q does not fit cursor column %q (%w): did cursor_lookback change between a duration and a count? --reset --yes forgets the state", text, job.Cursor.Column, err)
				return sum
			}
			b.stored, sum.Cursor = &v, text
		}
		b.low = job.Cursor.lower(b.stored, job.Since)
	}
	if p.Progress != nil {
		b.bar = newBar(p.Progress, job.Activation)
		defer b.bar.Finish()
	}
	var err error
	if cr, ok := job.Source.(source.CursorReader); ok && job.Cursor.On() {
		b.ordered = true
		var from any
		if b.low != nil {
			from = job.Cursor.param(*b.low)
		}
		err = cr.ReadFrom(ctx, from, b.add)
	} else {
		err = job.Source.Read(ctx, b.add)
	}
	var be *batchError
	switch {
	case errors.Is(err, errLimit):
		err = nil // the flush that reached the limit was the run's last
	case err != nil && !errors.As(err, &be) && context.Cause(ctx) == nil:
		// The source failed: what it read before still goes out; the cursor stays.
		if ferr := b.flush(ctx, false); ferr != nil && !errors.Is(ferr, errLimit) {
			err = errors.Join(err, ferr)
		}
	case err == nil:
		if err = b.flush(ctx, true); errors.Is(err, errLimit) {
			err = nil
		}
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
	runSeen keySet
	pending []pending
	batches int
	// Cursor mode: the stored cursor (nil before the first run), the read bound (nil:
	// none), the largest value acknowledged this run, and whether the source hands rows
	// over in cursor order.
	stored, low, max *cursorValue
	ordered          bool
	bar              *progressbar.ProgressBar // nil: no progress shown
	// hold: a limited backfill run, which holds the new rows past its limit. skipHeld: a
	// run that is not a backfill while rows are held, which skips them. limitHit: a new
	// row was left by the limit. skippedHeld: a held row was skipped.
	hold, skipHeld, limitHit, skippedHeld bool
}

func (b *batcher) add(rec source.Record) error {
	b.sum.Read++
	if b.bar != nil {
		b.bar.Add(1)
	}
	if rec.Err != nil {
		b.sum.invalid(rec.Err.Error())
		return nil
	}
	key, problem := keyText(rec.Row, b.job.PrimaryKey)
	if problem != "" {
		b.sum.invalid(where(rec.Where) + problem)
		return nil
	}
	var cv cursorValue
	if c := b.job.Cursor; c.On() {
		v, problem := c.value(rec.Row)
		if problem != "" {
			b.sum.invalid(where(rec.Where) + problem)
			return nil
		}
		if b.low != nil && c.less(v, *b.low) {
			b.sum.Skipped++
			return nil
		}
		cv = v
	}
	h := Hash(key)
	if !b.runSeen.add(h) {
		b.sum.Duplicates++
		return nil
	}
	b.pending = append(b.pending, pending{hash: h, cursor: cv, rowID: key, row: rec.Row, where: rec.Where})
	if len(b.pending) >= b.batchSize() {
		if err := b.flush(b.ctx, false); err != nil {
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

// flush emits the pending rows the state does not hold, then records them. The last flush
// of a run (final, or the one that reaches the limit) also stores the cursor, in the same
// fenced script. It returns errLimit once the limit held a new row back.
func (b *batcher) flush(ctx context.Context, final bool) error {
	defer func() { b.pending = b.pending[:0] }()
	var seen, isHeld []bool
	if len(b.pending) > 0 {
		hashes := make([]uint64, len(b.pending))
		for i, r := range b.pending {
			hashes[i] = r.hash
		}
		var err error
		if seen, err = b.state.Seen(ctx, hashes); err != nil {
			return &batchError{err}
		}
		if b.skipHeld {
			if isHeld, err = b.state.Held(ctx, hashes); err != nil {
				return &batchError{err}
			}
		}
	}
	now := time.Now
	if b.p.Now != nil {
		now = b.p.Now
	}
	emittedAt := now().UTC().Format(time.RFC3339Nano)
	c := b.job.Cursor
	var msgs []kafka.Message
	var emitted, toHold []uint64
	var batchMax *cursorValue
	limited := false
	for i, r := range b.pending {
		if seen[i] {
			// Emitted by an earlier run: its value counts toward the cursor, unless a
			// new row before it was left by the limit (the cursor must not pass that).
			if c.On() && !b.limitHit && (batchMax == nil || c.less(*batchMax, r.cursor)) {
				batchMax = &r.cursor
			}
			continue
		}
		if isHeld != nil && isHeld[i] {
			b.sum.Held++ // left to the backfill; the cursor stays below it
			b.skippedHeld = true
			continue
		}
		if b.job.Limit > 0 && b.sum.New >= b.job.Limit {
			b.limitHit = true
			if b.hold {
				b.sum.Held++ // held for the next backfill run; this run reads on
				toHold = append(toHold, r.hash)
				continue
			}
			limited = true // this row stays new for the next run
			continue
		}
		value, err := encode(message{Activation: b.job.Activation, RowID: r.rowID, EmittedAt: emittedAt, Priority: priority(b.job.Backfill), Row: r.row})
		if err != nil {
			b.sum.invalid(where(r.where) + err.Error())
			continue
		}
		b.sum.New++
		msgs = append(msgs, kafka.Message{Key: []byte(b.job.Activation + "/" + r.rowID), Value: value})
		emitted = append(emitted, r.hash)
		if c.On() && (batchMax == nil || c.less(*batchMax, r.cursor)) {
			batchMax = &r.cursor
		}
	}
	if b.bar != nil {
		b.bar.Describe(fmt.Sprintf("%s: %d new", b.job.Activation, b.sum.New))
	}
	if b.limitHit {
		b.sum.LimitReached = true
	}
	if limited {
		final = true
	}
	if b.lock == nil { // a dry run
		if limited {
			return errLimit
		}
		return nil
	}
	if len(msgs) > 0 {
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
	}
	if batchMax != nil && (b.max == nil || c.less(*b.max, *batchMax)) {
		b.max = batchMax // acknowledged now or by an earlier run
	}
	// The cursor moves only at the end of a run that read its source through (or, in
	// cursor order, up to the limit): an unordered source stopped by the limit may have
	// left rows below the largest value emitted, so its cursor stays; so does the cursor
	// of a run that skipped held rows, which the next backfill run must still read.
	var cursor string
	if final && b.max != nil && (b.ordered || !b.limitHit) && !b.skippedHeld && (b.stored == nil || c.less(*b.stored, *b.max)) {
		cursor = c.format(*b.max)
	}
	a := advance{emitted: emitted, held: toHold, cursor: cursor, release: b.job.Backfill,
		clear: final && b.job.Backfill && !b.limitHit} // every new row went out: none is held
	if err := b.lock.Advance(ctx, a); err != nil {
		return &batchError{err}
	}
	if cursor != "" {
		b.sum.Cursor = cursor
	}
	if limited {
		return errLimit
	}
	return nil
}

// newBar is a run's progress: rows read, rows/s and, in the description, new rows.
func newBar(w io.Writer, activation string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(activation+": 0 new"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionClearOnFinish(),
	)
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
