package wiring

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/consumer"
	"github.com/invitepipe/invitepipe/internal/deliver"
	"github.com/invitepipe/invitepipe/internal/destination"
	"github.com/invitepipe/invitepipe/internal/dlq"
	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/ledger"
	"github.com/invitepipe/invitepipe/internal/metrics"
	"github.com/invitepipe/invitepipe/internal/progress"
	"github.com/invitepipe/invitepipe/internal/ratelimit"
)

// Options are what may differ between callers of New.
type Options struct {
	// Lookup reads the variables the activation file names (API keys, secrets).
	// Default os.LookupEnv.
	Lookup destination.LookupEnv
	// Version labels invitepipe_build_info.
	Version string
	// Limiter tunes the rate limiter; the zero value is production's.
	Limiter ratelimit.Options
	// DeadLetters, when set, wraps the dead-letter writer the Handler writes through,
	// e.g. to count records by class (the demo's summary). It must pass every record on.
	DeadLetters func(deliver.DeadLetters) deliver.DeadLetters
}

// Consumer is the consumer's parts, wired.
type Consumer struct {
	// Redis serves the ledger, which batches the calls of concurrent messages with
	// INVITEPIPE_REDIS_PIPELINE (ledger.Options.Batch, package redisbatch).
	Redis redis.UniversalClient
	// Hot is the client of the rate limiter's per-message calls: Redis's autopipeliner
	// with INVITEPIPE_REDIS_PIPELINE, else Redis.
	Hot      redis.UniversalClient
	DLQ      *dlq.Writer
	Handler  *deliver.Handler
	Consumer *consumer.Consumer
	Metrics  *metrics.Metrics
}

// New wires the consumer of the activation file f with cfg.
func New(cfg config.Consumer, f *activation.File, opts Options, log zerolog.Logger) (*Consumer, error) {
	if opts.Lookup == nil {
		opts.Lookup = os.LookupEnv
	}
	// Keep a connection per concurrent call: the default of 2 idle connections per host
	// would reconnect (TLS included) for most calls at full concurrency.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.Concurrency
	tr.MaxIdleConns = 2 * cfg.Concurrency
	dests, err := destination.Build(f, cfg.Trustpilot, opts.Lookup, &http.Client{Transport: tr})
	if err != nil {
		return nil, err
	}
	conn, err := kafkaconn.New(cfg.Kafka)
	if err != nil {
		return nil, err
	}
	rdb, err := cfg.Redis.Client()
	if err != nil {
		return nil, err
	}
	p := &Consumer{Redis: rdb, Hot: rdb, DLQ: dlq.NewWriter(conn, cfg.DLQTopic), Metrics: metrics.New(opts.Version)}
	if cfg.RedisPipeline {
		// Batches run on the autopipeliner's own context, so a caller's deadline does
		// not cut a queued command short; the client's timeouts bound it.
		ap, err := rdb.AutoPipelineWithOptions(&redis.AutoPipelineOptions{MaxFlushDelay: cfg.RedisPipelineDelay})
		if err != nil {
			return nil, errors.Join(fmt.Errorf("INVITEPIPE_REDIS_PIPELINE: %w", err), rdb.Close())
		}
		p.Hot = ap
	}
	if err := p.wire(cfg, f, dests, conn, opts, log); err != nil {
		return nil, errors.Join(err, p.Close())
	}
	return p, nil
}

// wire builds the ledger, the limiter, the progress store, the Handler and the Consumer.
func (p *Consumer) wire(cfg config.Consumer, f *activation.File, dests map[string]*destination.Destination, conn *kafkaconn.Conn, opts Options, log zerolog.Logger) error {
	ldg, err := ledger.New(p.Redis, ledger.Options{Lease: cfg.LedgerLease, Retention: cfg.LedgerRetention,
		Batch: cfg.RedisPipeline, BatchDelay: cfg.RedisPipelineDelay})
	if err != nil {
		return err
	}
	lim, err := ratelimit.New(p.Hot, opts.Limiter)
	if err != nil {
		return err
	}
	// Done offsets past the committed one are remembered as long as a row may wait.
	prog, err := progress.New(p.Redis, max(cfg.DeferMaxAge, 7*24*time.Hour)+24*time.Hour)
	if err != nil {
		return err
	}
	var dead deliver.DeadLetters = p.DLQ
	if opts.DeadLetters != nil {
		dead = opts.DeadLetters(dead)
	}
	host, _ := os.Hostname()
	p.Handler, err = deliver.New(deliver.Config{
		UnknownOutcome: deliver.Policy(cfg.UnknownOutcome),
		Lease:          cfg.LedgerLease,
		MaxAttempts:    cfg.RetryMaxAttempts,
		MaxElapsed:     cfg.RetryMaxElapsed,
		Backoff:        cfg.RetryBackoff,
		BackoffMax:     cfg.RetryBackoffMax,
		ProbeInterval:  cfg.ProbeInterval,
		Owner:          fmt.Sprintf("%s-%d", host, os.Getpid()),
	}, f, dests, ldg, lim, dead, p.Metrics, log)
	if err != nil {
		return err
	}
	p.Consumer, err = consumer.New(conn, consumer.Config{
		Topic:             cfg.Topic,
		Group:             cfg.Group,
		PartitionInflight: cfg.PartitionConcurrency,
		MaxInflight:       cfg.Concurrency,
		MaxDeferredBodies: deferBuffer(cfg.DeferBuffer),
		Progress:          prog,
		DeferMaxAge:       cfg.DeferMaxAge,
		DrainTimeout:      cfg.DrainTimeout,
		SessionTimeout:    cfg.SessionTimeout,
		HeartbeatInterval: cfg.SessionTimeout / 6,
	}, p.Handler, log, p.Metrics)
	return err
}

// deferBuffer maps INVITEPIPE_DEFER_BUFFER (0: keep no body) to the consumer's
// MaxDeferredBodies (0 there means its default).
func deferBuffer(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// Close closes the dead-letter writer and the Redis clients.
func (p *Consumer) Close() error {
	var errs []error
	if err := p.DLQ.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing the dead-letter writer: %w", err))
	}
	if p.Hot != p.Redis {
		if err := p.Hot.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing the Redis autopipeliner: %w", err))
		}
	}
	if err := p.Redis.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing the Redis client: %w", err))
	}
	return errors.Join(errs...)
}
