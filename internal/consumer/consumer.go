package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/metrics"
	"github.com/invitepipe/invitepipe/internal/progress"
)

// Handler gives one message its outcome.
type Handler interface {
	// Handle returns nil once msg has its final outcome (sent, duplicate, or written to
	// the dead-letter topic): its offset may then be committed. A *lane.Wait means msg
	// cannot be handled before the wait's Until: it is deferred, holding no slot, and
	// handed over again then (a lane's wait holds back the lane's deferred messages
	// too). Handle must answer a waiting lane's wait from memory, cheaply: every message
	// of the lane that arrives meanwhile is handed to it once.
	// Any other error means Handle gave up without an outcome; msg is tried again later.
	//
	// draining ends when the consumer starts draining (it is a child of ctx): Handle
	// must not begin a new wait after that, but may finish a call to Trustpilot already
	// under way until ctx ends at the drain deadline.
	Handle(ctx, draining context.Context, msg kafka.Message) error
	// Expire gives msg its outcome without sending it: it waited longer than
	// Config.DeferMaxAge (waited is its age), and Kafka's retention would delete it.
	Expire(ctx context.Context, msg kafka.Message, waited time.Duration) error
}

// Progress keeps, beyond the committed offset, which offsets of a partition already have
// their outcome, so that the next owner skips them (*progress.Store in production).
type Progress interface {
	Save(ctx context.Context, group, topic string, partition int, gen int32, snap progress.Snapshot) error
	Load(ctx context.Context, group, topic string, partition int) (progress.Snapshot, error)
}

// Config tunes the consumer. Zero fields take their defaults.
type Config struct {
	// Topic is the rows topic. Required.
	Topic string
	// Group is the consumer group. Required.
	Group string
	// PartitionInflight bounds the messages of one partition handled at once. Default
	// MaxInflight: one partition can keep every slot busy.
	PartitionInflight int
	// MaxInflight bounds the messages handled at once by the process. Default 256.
	MaxInflight int
	// MaxDeferredBodies bounds the deferred messages whose bodies the process keeps in
	// memory; past it a deferred message keeps only its offset (a few bytes) and is read
	// again from Kafka when its turn comes. Default 10000; negative: none.
	MaxDeferredBodies int
	// RescanBatch bounds the messages one pass of reading again collects. Default 1024.
	RescanBatch int
	// Progress, when set, records done offsets beyond the watermark every
	// CommitInterval and at each generation's end, and is read when a partition is
	// assigned: a rebalance then redoes only the work of the last interval.
	Progress Progress
	// DeferMaxAge is how old (by its Kafka timestamp) a deferred message may grow before
	// it is expired (Handler.Expire) instead of waiting on, so that Kafka's retention
	// never deletes it unseen. Zero: never.
	DeferMaxAge time.Duration
	// CommitInterval is how often the committer commits watermarks that moved. Default 1s.
	CommitInterval time.Duration
	// DrainTimeout bounds how long in-flight messages may run once a generation ends. It
	// must be shorter than SessionTimeout, so the final commit happens while this member
	// still belongs to the group. Default 10s.
	DrainTimeout time.Duration
	// SessionTimeout is how long the group waits for a silent member (a killed pod)
	// before giving its partitions to others. Default 20s.
	SessionTimeout time.Duration
	// HeartbeatInterval is how often this member tells the group it is alive. Default 3s.
	HeartbeatInterval time.Duration
	// RebalanceTimeout is how long the group waits for members to rejoin. Default 30s.
	RebalanceTimeout time.Duration
	// FetchMaxWait is how long a fetch waits for new messages. Default 500ms.
	FetchMaxWait time.Duration
}

func (c Config) withDefaults() Config {
	setDefault(&c.MaxInflight, 256)
	setDefault(&c.PartitionInflight, c.MaxInflight)
	setDefault(&c.MaxDeferredBodies, 10000)
	setDefault(&c.RescanBatch, 1024)
	setDefault(&c.CommitInterval, time.Second)
	setDefault(&c.DrainTimeout, 10*time.Second)
	setDefault(&c.SessionTimeout, 20*time.Second)
	setDefault(&c.HeartbeatInterval, 3*time.Second)
	setDefault(&c.RebalanceTimeout, 30*time.Second)
	setDefault(&c.FetchMaxWait, 500*time.Millisecond)
	return c
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Validate reports settings that break the invariants.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Topic == "" || c.Group == "" {
		errs = append(errs, errors.New("consumer: topic and group are required"))
	}
	if c.PartitionInflight < 1 || c.MaxInflight < 1 || c.RescanBatch < 1 || c.DeferMaxAge < 0 {
		errs = append(errs, fmt.Errorf("consumer: need partition in-flight (%d), max in-flight (%d) and rescan batch (%d) >= 1 and defer max age (%s) >= 0",
			c.PartitionInflight, c.MaxInflight, c.RescanBatch, c.DeferMaxAge))
	}
	if c.DrainTimeout >= c.SessionTimeout {
		errs = append(errs, fmt.Errorf("consumer: drain timeout %s must be shorter than the session timeout %s, or the final commit comes after the group dropped this member", c.DrainTimeout, c.SessionTimeout))
	}
	if c.HeartbeatInterval*3 > c.SessionTimeout {
		errs = append(errs, fmt.Errorf("consumer: heartbeat interval %s must be at most a third of the session timeout %s", c.HeartbeatInterval, c.SessionTimeout))
	}
	return errors.Join(errs...)
}

// Consumer is one member of the consumer group.
type Consumer struct {
	conn    *kafkaconn.Conn
	cfg     Config
	handler Handler
	log     zerolog.Logger
	metrics *metrics.Metrics

	// work hands dispatched messages to the workers, MaxInflight goroutines that run
	// while Run does: the process-wide in-flight bound. A worker keeps its stack from one
	// message to the next, where a goroutine per message would grow one each time.
	work   chan work
	lanes  *registry
	bodies atomic.Int64 // bodies of deferred messages kept in memory
	joined atomic.Bool
	// lastProgress is when a message was last fetched or given its outcome (unix
	// nanoseconds), for the progress watchdog.
	lastProgress atomic.Int64
}

// New returns a consumer; Run starts it.
func New(conn *kafkaconn.Conn, cfg Config, h Handler, log zerolog.Logger, m *metrics.Metrics) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &Consumer{conn: conn, cfg: cfg, handler: h, log: log, metrics: m, work: make(chan work), lanes: newRegistry(m)}
	c.lastProgress.Store(time.Now().UnixNano())
	return c, nil
}

// Joined reports whether the consumer currently holds a generation of the group.
func (c *Consumer) Joined() bool { return c.joined.Load() }

// Deferred is the number of messages this process holds deferred for their destination.
func (c *Consumer) Deferred() int { return c.lanes.deferred() }

// Held reports whether messages wait because their destination cannot take them now
// (paused, cooling down, out of budget): then no progress is expected of them. Messages
// retrying on their own do not count.
func (c *Consumer) Held() bool { return c.lanes.held() }

func (c *Consumer) progress() { c.lastProgress.Store(time.Now().UnixNano()) }

// LastProgress is when the consumer last fetched a message or gave one its outcome.
func (c *Consumer) LastProgress() time.Time { return time.Unix(0, c.lastProgress.Load()) }

// Run consumes until ctx ends, then drains, commits and leaves the group. It returns nil
// after a clean shutdown and an error when the group cannot be created.
func (c *Consumer) Run(ctx context.Context) error {
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                    c.cfg.Group,
		Brokers:               c.conn.Brokers,
		Dialer:                c.conn.Dialer,
		Topics:                []string{c.cfg.Topic},
		StartOffset:           kafka.FirstOffset,
		SessionTimeout:        c.cfg.SessionTimeout,
		HeartbeatInterval:     c.cfg.HeartbeatInterval,
		RebalanceTimeout:      c.cfg.RebalanceTimeout,
		WatchPartitionChanges: true,
		JoinGroupBackoff:      time.Second,
		ErrorLogger:           kafka.LoggerFunc(func(msg string, args ...any) { c.log.Debug().Msgf("kafka: "+msg, args...) }),
	})
	if err != nil {
		return fmt.Errorf("consumer group %s: %w", c.cfg.Group, err)
	}
	for range c.cfg.MaxInflight {
		go c.worker()
	}
	left := make(chan struct{})
	go func() {
		<-ctx.Done()
		// Close ends the current generation, waits for its partitions to drain and
		// commit, then leaves the group.
		_ = group.Close()
		close(left)
	}()
	for {
		gen, err := group.Next(ctx)
		if err != nil {
			c.joined.Store(false)
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				break
			}
			c.log.Warn().Err(err).Str("group", c.cfg.Group).Msg("joining the consumer group; retrying")
			continue
		}
		c.joined.Store(true)
		c.startGeneration(gen)
	}
	<-left
	// Every partition has returned, so nothing is handed over any more; a worker still
	// in a handler past the drain deadline ends when the handler does.
	close(c.work)
	c.log.Info().Str("group", c.cfg.Group).Msg("left the consumer group")
	return nil
}

// work is a dispatched message for a worker, with its partition's contexts.
type work struct {
	p        *partition
	hard     context.Context
	draining context.Context
	task
}

// worker handles dispatched messages until Run ends, sending each result to its
// partition (whose results channel has room for every message it dispatched).
func (c *Consumer) worker() {
	for w := range c.work {
		c.metrics.Inflight.Inc()
		var err error
		if w.kind == expire {
			err = c.handler.Expire(w.hard, w.msg, time.Since(w.msg.Time))
		} else {
			err = c.handler.Handle(w.hard, w.draining, w.msg)
		}
		c.metrics.Inflight.Dec()
		w.p.results <- result{task: w.task, err: err}
	}
}

// startGeneration starts a goroutine per assigned partition and the committer. They
// run until the generation ends.
func (c *Consumer) startGeneration(gen *kafka.Generation) {
	assigned := gen.Assignments[c.cfg.Topic]
	com := &committer{gen: gen, topic: c.cfg.Topic, log: c.log, metrics: c.metrics,
		latest: make(map[int]int64, len(assigned)), committed: make(map[int]int64, len(assigned))}
	var partitions sync.WaitGroup
	partitions.Add(len(assigned))
	ids := make([]int, len(assigned))
	for i, pa := range assigned {
		ids[i] = pa.ID
		p := &partition{c: c, id: pa.ID, gen: gen.ID, log: c.log.With().Int("partition", pa.ID).Logger(), com: com}
		gen.Start(func(gctx context.Context) {
			defer partitions.Done()
			p.run(gctx, pa.Offset)
		})
	}
	gen.Start(func(gctx context.Context) { com.run(gctx, &partitions, c.cfg.CommitInterval) })
	c.log.Info().Int32("generation", gen.ID).Ints("partitions", ids).Msg("joined the consumer group")
}

// newReader reads partition from offset.
func (c *Consumer) newReader(partition int, offset int64) *kafka.Reader {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   c.conn.Brokers,
		Dialer:    c.conn.Dialer,
		Topic:     c.cfg.Topic,
		Partition: partition,
		MinBytes:  1,
		MaxBytes:  10 << 20,
		MaxWait:   c.cfg.FetchMaxWait,
	})
	if err := r.SetOffset(offset); err != nil {
		// Only a reader already reading refuses; this one has not started.
		c.log.Error().Err(err).Int("partition", partition).Int64("offset", offset).Msg("cannot start reading the partition")
	}
	return r
}

// fetch reads messages in offset order and passes them on until the generation ends.
// The partition takes them only while it has a free slot, so fetching never runs ahead
// of handling by more than one message.
func (c *Consumer) fetch(gctx context.Context, r *kafka.Reader, out chan<- kafka.Message) {
	for {
		msg, err := c.fetchOne(gctx, r)
		if err != nil {
			return
		}
		select {
		case out <- msg:
		case <-gctx.Done():
			return
		}
	}
}

// fetchRetry is how long fetchOne waits after a failed fetch.
const fetchRetry = time.Second

// fetchOne returns the next message, retrying failed fetches until the generation ends.
func (c *Consumer) fetchOne(gctx context.Context, r *kafka.Reader) (kafka.Message, error) {
	for {
		msg, err := r.FetchMessage(gctx)
		if err == nil || gctx.Err() != nil {
			return msg, err
		}
		c.log.Error().Err(err).Str("topic", c.cfg.Topic).Int("partition", r.Config().Partition).Msg("fetching; retrying")
		select {
		case <-time.After(fetchRetry):
		case <-gctx.Done():
			return msg, gctx.Err()
		}
	}
}
