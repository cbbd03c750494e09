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
)

// Handler gives one message its outcome.
type Handler interface {
	// Handle returns nil once msg has its final outcome (sent, duplicate, or written to
	// the dead-letter topic): its offset may then be committed. It returns an error only
	// when it gave up without an outcome; the message then stays uncommitted and is
	// delivered again, to this member or another.
	//
	// draining ends when the consumer starts draining (it is a child of ctx): Handle
	// must not begin a new wait (rate limit, backoff, paused destination) after that,
	// but may finish a call to Trustpilot already under way until ctx ends at the drain
	// deadline.
	Handle(ctx, draining context.Context, msg kafka.Message) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx, draining context.Context, msg kafka.Message) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx, draining context.Context, msg kafka.Message) error {
	return f(ctx, draining, msg)
}

// Config tunes the consumer. Zero fields take their defaults.
type Config struct {
	// Topic is the rows topic. Required.
	Topic string
	// Group is the consumer group. Required.
	Group string
	// PartitionInflight bounds the messages of one partition handled at once. Default 32.
	PartitionInflight int
	// MaxInflight bounds the messages handled at once by the process. Default 256.
	MaxInflight int
	// MaxPending bounds the messages of one partition fetched but not yet behind its
	// watermark (done or not): a message stuck in flight stops fetching there. Default 10000.
	MaxPending int
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
	setDefault(&c.PartitionInflight, 32)
	setDefault(&c.MaxInflight, 256)
	setDefault(&c.MaxPending, 10000)
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
	if c.PartitionInflight < 1 || c.MaxInflight < 1 || c.MaxPending < c.PartitionInflight {
		errs = append(errs, fmt.Errorf("consumer: need 1 <= partition in-flight (%d) <= max pending (%d) and max in-flight >= 1 (%d)", c.PartitionInflight, c.MaxPending, c.MaxInflight))
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

	slots  chan struct{} // process-wide in-flight bound
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
	c := &Consumer{conn: conn, cfg: cfg, handler: h, log: log, metrics: m, slots: make(chan struct{}, cfg.MaxInflight)}
	c.lastProgress.Store(time.Now().UnixNano())
	return c, nil
}

// Joined reports whether the consumer currently holds a generation of the group.
func (c *Consumer) Joined() bool { return c.joined.Load() }

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
	c.log.Info().Str("group", c.cfg.Group).Msg("left the consumer group")
	return nil
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
		gen.Start(func(gctx context.Context) {
			defer partitions.Done()
			c.consumePartition(gctx, pa, com)
		})
	}
	gen.Start(func(gctx context.Context) { com.run(gctx, &partitions, c.cfg.CommitInterval) })
	c.log.Info().Int32("generation", gen.ID).Ints("partitions", ids).Msg("joined the consumer group")
}

// result is a handled message: its offset and whether it has an outcome.
type result struct {
	offset int64
	done   bool
}

// consumePartition fetches one partition and dispatches its messages until the
// generation ends, then drains and records the final watermark.
func (c *Consumer) consumePartition(gctx context.Context, pa kafka.PartitionAssignment, com *committer) {
	log := c.log.With().Int("partition", pa.ID).Logger()
	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   c.conn.Brokers,
		Dialer:    c.conn.Dialer,
		Topic:     c.cfg.Topic,
		Partition: pa.ID,
		MinBytes:  1,
		MaxBytes:  10 << 20,
		MaxWait:   c.cfg.FetchMaxWait,
	})
	defer reader.Close()
	if err := reader.SetOffset(pa.Offset); err != nil {
		log.Error().Err(err).Int64("offset", pa.Offset).Msg("cannot start reading the partition")
		return
	}

	// hard ends the handlers' calls: DrainTimeout after the generation ends.
	hard, cancelHard := context.WithCancel(context.Background())
	defer cancelHard()
	draining, startDraining := context.WithCancel(hard)
	defer startDraining()

	wm := newWatermark(pa.Offset)
	pendingTokens := make(chan struct{}, c.cfg.MaxPending)
	partSlots := make(chan struct{}, c.cfg.PartitionInflight)
	results := make(chan result, c.cfg.PartitionInflight) // each in-flight message sends once: never blocks
	fetched := make(chan kafka.Message)
	go c.fetch(gctx, reader, partSlots, pendingTokens, fetched)

	inflight := 0
	release := func() {
		<-partSlots
		<-c.slots
		c.metrics.Inflight.Dec()
	}
	finish := func(r result) {
		inflight--
		release()
		if !r.done {
			return
		}
		c.lastProgress.Store(time.Now().UnixNano())
		before := wm.pending()
		com.set(pa.ID, wm.done(r.offset))
		for range before - wm.pending() {
			<-pendingTokens
		}
	}
	for {
		select {
		case msg := <-fetched:
			c.lastProgress.Store(time.Now().UnixNano())
			if !wm.fetched(msg.Offset) {
				// A redelivery of an offset already fetched in this generation.
				release()
				<-pendingTokens
				continue
			}
			inflight++
			go func() {
				err := c.handler.Handle(hard, draining, msg)
				if err != nil && hard.Err() == nil {
					log.Warn().Err(err).Int64("offset", msg.Offset).Msg("message left without an outcome; it will be delivered again")
				}
				results <- result{offset: msg.Offset, done: err == nil}
			}()
		case r := <-results:
			finish(r)
		case <-gctx.Done():
			startDraining()
			deadline := time.AfterFunc(c.cfg.DrainTimeout, cancelHard)
			defer deadline.Stop()
			for inflight > 0 {
				select {
				case r := <-results:
					finish(r)
				case <-hard.Done():
					log.Warn().Int("inflight", inflight).Msg("drain deadline passed; uncommitted messages will be delivered again")
					// The abandoned handlers return soon (their ctx has ended); their
					// process slots must outlive this generation.
					go func(n int) {
						for range n {
							<-results
							release()
						}
					}(inflight)
					return
				}
			}
			return
		}
	}
}

// fetch reads messages in offset order and passes them on. Each message holds a pending
// token and a partition slot, taken before it is fetched, and a process slot, taken
// after: a fetcher waiting for messages holds none of the process's slots, so idle
// partitions never starve busy ones. It stops when the generation ends.
func (c *Consumer) fetch(gctx context.Context, r *kafka.Reader, partSlots, pendingTokens chan struct{}, out chan<- kafka.Message) {
	for {
		for _, sem := range []chan struct{}{pendingTokens, partSlots} {
			select {
			case sem <- struct{}{}:
			case <-gctx.Done():
				return // the tokens taken die with the partition's channels
			}
		}
		msg, err := c.fetchOne(gctx, r)
		if err != nil {
			return
		}
		c.metrics.Inflight.Inc()
		if !c.handOver(gctx, msg, out) {
			c.metrics.Inflight.Dec()
			return
		}
	}
}

// handOver takes a process slot for msg and passes msg on. It reports false, holding no
// process slot, when the generation ends first: the process outlives the generation.
func (c *Consumer) handOver(gctx context.Context, msg kafka.Message, out chan<- kafka.Message) bool {
	select {
	case c.slots <- struct{}{}:
	case <-gctx.Done():
		return false
	}
	select {
	case out <- msg:
		return true
	case <-gctx.Done():
		<-c.slots
		return false
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
