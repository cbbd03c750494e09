package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/admin"
	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/logging"
	"github.com/invitepipe/invitepipe/internal/metrics"
	"github.com/invitepipe/invitepipe/internal/producer"
)

// scheduledSource is an activation of schedule mode: its source and how often it runs.
type scheduledSource struct {
	sourceSpec
	every time.Duration
}

// scheduledSources keeps the selected activations that have a schedule. Named ones
// (ids) must all have one; otherwise at least one activation must.
func scheduledSources(f *activation.File, specs []sourceSpec, ids []string) ([]scheduledSource, error) {
	var out []scheduledSource
	var problems []string
	for _, s := range specs {
		a, _ := f.Activation(s.id)
		switch {
		case a.Schedule <= 0:
			if len(ids) > 0 {
				problems = append(problems, fmt.Sprintf("--activation %s: the activation has no schedule: add one (e.g. schedule: 15m) or run it with --once", s.id))
			}
		case s.spec.Path == "-":
			problems = append(problems, fmt.Sprintf("activations.%s.source.path: \"-\" (stdin) can be read once only: name a file, or run it with --once", s.id))
		default:
			out = append(out, scheduledSource{sourceSpec: s, every: a.Schedule})
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	if len(out) == 0 {
		return nil, errors.New("no activation with a source has a schedule: add one (e.g. schedule: 15m) to an activation to run produce without --once, or run produce --once (e.g. from a CronJob)")
	}
	return out, nil
}

// runSchedule is schedule mode: each activation runs at once, then every schedule, until
// ctx ends (SIGTERM). It serves /livez, /readyz (Redis and Kafka reachable) and /metrics
// on INVITEPIPE_ADMIN_ADDR. It returns nil after ctx ended, once the runs in progress
// stopped; runs that fail are logged and counted, never fatal.
func runSchedule(ctx context.Context, cfg config.Producer, sources []scheduledSource, p *producer.Producer, conn *kafkaconn.Conn, m *metrics.Producer, stdout io.Writer) error {
	var adm config.Admin
	if err := config.Load(&adm); err != nil {
		return err
	}
	log, err := logging.New(stdout, cfg.LogLevel)
	if err != nil {
		return err
	}
	srv := admin.New(adm.Addr, m.Registry)
	srv.AddCheck("redis", func(ctx context.Context) error { return p.Redis.Ping(ctx).Err() })
	srv.AddCheck("kafka", kafkaCheck(conn, cfg.Topic))
	ln, err := srv.Listen()
	if err != nil {
		return fmt.Errorf("INVITEPIPE_ADMIN_ADDR: %w", err)
	}
	adminCtx, stopAdmin := context.WithCancel(context.Background())
	defer stopAdmin()
	adminDone := make(chan error, 1)
	go func() { adminDone <- srv.Serve(adminCtx, ln) }()

	s := &scheduler{p: p, dir: filepath.Dir(cfg.Activations), lookup: os.LookupEnv, m: m, log: log}
	ids := make([]string, len(sources))
	for i, src := range sources {
		ids[i] = src.id + "=" + src.every.String()
		m.Init(src.id)
	}
	log.Info().Strs("activations", ids).Str("topic", cfg.Topic).Str("admin", ln.Addr().String()).Msg("producing on schedule")
	var wg sync.WaitGroup
	for _, src := range sources {
		wg.Go(func() { s.loop(ctx, src, s.runOnce) })
	}
	<-ctx.Done()
	srv.Drain()
	wg.Wait()
	stopAdmin()
	if err := <-adminDone; err != nil {
		log.Warn().Err(err).Msg("admin server")
	}
	log.Info().Msg("stopped cleanly")
	return nil
}

// kafkaCheck is ready when the brokers answer a metadata request for topic and the topic
// exists.
func kafkaCheck(conn *kafkaconn.Conn, topic string) func(context.Context) error {
	client := &kafka.Client{Addr: kafka.TCP(conn.Brokers...)}
	if conn.Transport != nil { // a nil *Transport in the interface would not be kafka-go's default
		client.Transport = conn.Transport
	}
	return func(ctx context.Context) error {
		meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err != nil {
			return fmt.Errorf("kafka: %w", err)
		}
		for _, t := range meta.Topics {
			if t.Name == topic && t.Error != nil {
				return fmt.Errorf("kafka: topic %s: %w", topic, t.Error)
			}
		}
		return nil
	}
}

// scheduler runs activations on their schedules.
type scheduler struct {
	p      *producer.Producer
	dir    string // the activation file's directory
	lookup func(string) (string, bool)
	m      *metrics.Producer
	log    zerolog.Logger
}

// loop calls run for src at once and then on every tick of src's schedule until ctx
// ends, one run at a time: a tick that comes while the previous run still goes is
// skipped (and logged). It returns once ctx ended and the run in progress, if any,
// returned.
func (s *scheduler) loop(ctx context.Context, src scheduledSource, run func(context.Context, scheduledSource)) {
	t := time.NewTicker(src.every)
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	busy := make(chan struct{}, 1)
	start := func() {
		if ctx.Err() != nil { // a tick and the shutdown came together: no new run
			return
		}
		select {
		case busy <- struct{}{}:
			wg.Go(func() {
				defer func() { <-busy }()
				run(ctx, src)
			})
		default:
			s.log.Warn().Str("activation", src.id).Dur("schedule", src.every).Msg("the previous run is still going: this run is skipped")
		}
	}
	start()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			start()
		}
	}
}

// runOnce runs src once, then logs and counts the run. A run refused because another
// process holds the activation's lock is logged only: it did nothing.
func (s *scheduler) runOnce(ctx context.Context, src scheduledSource) {
	var sum producer.Summary
	if source, err := src.spec.Open(s.dir, s.lookup, nil); err != nil {
		sum = producer.Summary{Activation: src.id, Err: err}
	} else {
		sum = s.p.Run(ctx, src.spec.Job(src.id, source), false)
	}
	if errors.Is(sum.Err, producer.ErrLocked) {
		s.log.Info().Str("activation", src.id).Msg("another process runs this activation now: this run is skipped")
		return
	}
	observeRun(s.m, sum)
	ev := s.log.Info()
	msg := "run done"
	switch {
	case sum.Err != nil && ctx.Err() != nil:
		msg = "run stopped by the shutdown; the rows Kafka acknowledged are recorded, the next run reads the rest"
	case sum.Err != nil:
		ev = s.log.Error().Err(sum.Err)
		msg = "run failed"
	case sum.Invalid > 0:
		ev = s.log.Warn()
	}
	if len(sum.Problems) > 0 {
		ev = ev.Strs("problems", sum.Problems)
	}
	ev.Str("activation", src.id).Int64("read", sum.Read).Int64("new", sum.New).Int64("emitted", sum.Emitted).
		Int64("invalid", sum.Invalid).Int64("duplicates", sum.Duplicates).Dur("duration", sum.Duration).Msg(msg)
}

// observeRun counts a run into m; dry runs count nothing.
func observeRun(m *metrics.Producer, sum producer.Summary) {
	if sum.DryRun {
		return
	}
	m.Observe(metrics.Run{
		Activation: sum.Activation, Read: sum.Read, New: sum.New, Emitted: sum.Emitted, Invalid: sum.Invalid,
		Duplicates: sum.Duplicates, Duration: sum.Duration, Succeeded: sum.Err == nil, Ended: time.Now(),
	})
}
