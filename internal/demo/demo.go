package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/producer"
	"github.com/invitepipe/invitepipe/internal/ratelimit"
	"github.com/invitepipe/invitepipe/internal/wiring"
)

// Defaults of Options.
const (
	DefaultActivations = "examples/activations.yaml"
	DefaultPartitions  = 4
	DefaultTimeout     = 2 * time.Minute
)

// Options configure Run. An empty address of a part means the embedded one.
type Options struct {
	// Activations is the activation file; its csv sources are read relative to it.
	// Default DefaultActivations.
	Activations string
	// Consumer and Production are the consumer's and the producer's settings (the
	// INVITEPIPE_* variables). Run sets their addresses, topics and group.
	Consumer   config.Consumer
	Production config.Production
	// Kafka lists the bootstrap brokers of a real Kafka; empty: an embedded broker.
	Kafka []string
	// Redis is the URL of a real Redis; empty: an embedded one.
	Redis string
	// Trustpilot is the token host URL of a real Trustpilot API (or of a sandbox running
	// elsewhere) and TrustpilotInvitations its invitations host URL (default: Trustpilot);
	// empty: the embedded sandbox, listening on SandboxAddr.
	Trustpilot            string
	TrustpilotInvitations string
	// SandboxAddr is the embedded sandbox's listen address. Default sandbox.DefaultAddr.
	SandboxAddr string
	// Partitions of the topics the demo creates. Default DefaultPartitions.
	Partitions int
	// Throttle has the embedded sandbox answer 429 to one destination for a while.
	Throttle Throttle
	// Timeout bounds the wait for every row's outcome. Default DefaultTimeout.
	Timeout time.Duration
	// Stay keeps every part running after the summary until ctx ends, so the sandbox's
	// invitation history can be browsed.
	Stay bool
	// Out receives the progress and the summary. Terminal means Out is a terminal: the
	// progress is one live line; otherwise it is plain lines.
	Out      io.Writer
	Terminal bool
	// Log receives the parts' logs.
	Log zerolog.Logger
	// Version labels the metrics.
	Version string
}

// Throttle is a destination whose calls the embedded sandbox answers with 429 for For.
type Throttle struct {
	Destination string
	For         time.Duration
}

func (o *Options) setDefaults() {
	if o.Activations == "" {
		o.Activations = DefaultActivations
	}
	if o.Partitions == 0 {
		o.Partitions = DefaultPartitions
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.TrustpilotInvitations == "" {
		o.TrustpilotInvitations = o.Trustpilot
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
}

// demoLimiter is the rate limiter at the embedded sandbox's time scale (doc.go).
var demoLimiter = ratelimit.Options{CooldownMax: 2 * time.Second, CapWindow: time.Second}

// ErrIncomplete is returned when rows still had no outcome at Options.Timeout.
var ErrIncomplete = errors.New("demo: not every row had an outcome in time")

// Run runs the demo: it starts the parts, emits the activations' sources, waits until
// every row has its outcome, prints the summary and returns it (after ctx ends, with
// Options.Stay).
func Run(ctx context.Context, opts Options) (Summary, error) {
	opts.setDefaults()
	if opts.Partitions < 1 {
		return Summary{}, fmt.Errorf("partitions %d: use 1 or more", opts.Partitions)
	}
	f, err := activation.Load(opts.Activations)
	if err != nil {
		return Summary{}, err
	}
	if err := checkThrottle(f, opts.Throttle); err != nil {
		return Summary{}, err
	}
	jobs, err := sources(f, filepath.Dir(opts.Activations))
	if err != nil {
		return Summary{}, err
	}
	env, err := start(ctx, f, opts)
	defer env.close()
	if err != nil {
		return Summary{}, err
	}
	counts := newDeadLetterCounts(f)
	wopts := wiring.Options{Lookup: env.lookup, Version: opts.Version, DeadLetters: counts.wrap}
	if env.sandbox != nil {
		wopts.Limiter = demoLimiter
	}
	parts, err := wiring.New(env.cfg, f, wopts, opts.Log)
	if err != nil {
		return Summary{}, err
	}
	defer func() {
		if err := parts.Close(); err != nil {
			opts.Log.Warn().Err(err).Msg("closing the consumer's parts")
		}
	}()
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	consumerDone := make(chan struct{})
	var consumerErr error
	go func() {
		defer close(consumerDone)
		consumerErr = parts.Consumer.Run(runCtx)
	}()
	defer func() {
		stop()
		<-consumerDone
		if consumerErr != nil {
			opts.Log.Warn().Err(consumerErr).Msg("consumer")
		}
	}()

	fmt.Fprintf(opts.Out, "invitepipe demo: %s, %s, %s\n", env.kafkaText, env.redisText, env.trustpilotText)
	env.throttle(opts.Throttle, func() int64 {
		return count(parts.Metrics.Requests.WithLabelValues(opts.Throttle.Destination, "429"))
	})
	sums, err := produce(ctx, env, parts, jobs, opts)
	if err != nil {
		return Summary{}, err
	}
	w := newWatch(f, parts, opts)
	if err := w.until(ctx, emitted(sums), consumerDone, &consumerErr); err != nil {
		return Summary{}, err
	}
	sum, err := summarize(f, sums, parts.Metrics, counts, env)
	if err != nil {
		return sum, err
	}
	if err := sum.Write(opts.Out); err != nil {
		return sum, err
	}
	if opts.Stay {
		fmt.Fprintln(opts.Out, "press Ctrl-C to stop")
		<-ctx.Done()
	}
	return sum, nil
}

// job is an activation with a source.
type job struct {
	id   string
	spec producer.Spec
	dir  string
}

// sources returns the activations of f that have a source, with their source blocks.
func sources(f *activation.File, dir string) ([]job, error) {
	var jobs []job
	var errs []error
	for i := range f.Activations {
		a := &f.Activations[i]
		if a.Source == nil {
			continue
		}
		spec, err := producer.ParseSpec(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		jobs = append(jobs, job{id: a.ID, spec: spec, dir: dir})
	}
	if len(jobs) == 0 && len(errs) == 0 {
		return nil, errors.New("no activation of the file has a source: the demo emits the rows of activations with a source block")
	}
	return jobs, errors.Join(errs...)
}

// produce runs the producer once over every job, as `invitepipe produce --once` does.
func produce(ctx context.Context, env *environment, parts *wiring.Consumer, jobs []job, opts Options) ([]producer.Summary, error) {
	conn, err := kafkaconn.New(env.cfg.Kafka)
	if err != nil {
		return nil, err
	}
	w := producer.NewWriter(conn, env.cfg.Topic, opts.Production.BatchSize)
	defer w.Close()
	p := &producer.Producer{Redis: parts.Redis, Writer: w, BatchSize: opts.Production.BatchSize, LockLease: opts.Production.LockLease}
	if opts.Terminal {
		p.Progress = opts.Out
	}
	sums := make([]producer.Summary, 0, len(jobs))
	for _, j := range jobs {
		src, err := j.spec.Open(j.dir, os.LookupEnv, nil)
		if err != nil {
			return nil, fmt.Errorf("activation %s: %w", j.id, err)
		}
		sum := p.Run(ctx, j.spec.Job(j.id, src), false)
		if sum.Err != nil {
			return nil, fmt.Errorf("producer, activation %s: %w", j.id, sum.Err)
		}
		sums = append(sums, sum)
	}
	return sums, nil
}

// emitted is how many rows the runs put on the rows topic.
func emitted(sums []producer.Summary) int64 {
	var n int64
	for _, s := range sums {
		n += s.Emitted
	}
	return n
}
