package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/admin"
	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/consumer"
	"github.com/invitepipe/invitepipe/internal/destination"
	"github.com/invitepipe/invitepipe/internal/logging"
	"github.com/invitepipe/invitepipe/internal/wiring"
)

// runConsume is the consumer: it runs until ctx ends (SIGTERM), then drains, commits and
// leaves the group.
func runConsume(ctx context.Context, args []string, stdout io.Writer) error {
	var cfg config.Consumer
	fs := newFlagSet("consume", "consume", &cfg, stdout)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := config.Load(&cfg); err != nil {
		return err
	}
	log, err := logging.New(stdout, cfg.LogLevel)
	if err != nil {
		return err
	}
	p, err := newPipeline(cfg, os.LookupEnv, log)
	if err != nil {
		return err
	}
	defer p.close()
	return p.run(ctx)
}

// pipeline is the consumer's parts (package wiring) and its admin server.
type pipeline struct {
	parts *wiring.Consumer
	cfg   config.Consumer
	log   zerolog.Logger
	admin *admin.Server
}

func newPipeline(cfg config.Consumer, lookup destination.LookupEnv, log zerolog.Logger) (*pipeline, error) {
	f, err := activation.Load(cfg.Activations)
	if err != nil {
		return nil, err
	}
	parts, err := wiring.New(cfg, f, wiring.Options{Lookup: lookup, Version: version}, log)
	if err != nil {
		return nil, err
	}
	p := &pipeline{parts: parts, cfg: cfg, log: log, admin: admin.New(cfg.Admin.Addr, parts.Metrics.Registry)}
	p.admin.AddCheck("kafka", func(context.Context) error {
		if !p.parts.Consumer.Joined() {
			return errors.New("not a member of the consumer group yet")
		}
		return nil
	})
	p.admin.AddCheck("redis", func(ctx context.Context) error { return p.parts.Redis.Ping(ctx).Err() })
	p.admin.SetPaused(p.parts.Handler.Paused)
	return p, nil
}

// run serves the admin endpoints and consumes until ctx ends or the watchdog fires.
func (p *pipeline) run(ctx context.Context) error {
	ln, err := p.admin.Listen()
	if err != nil {
		return fmt.Errorf("INVITEPIPE_ADMIN_ADDR: %w", err)
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	adminDone := make(chan error, 1)
	adminCtx, stopAdmin := context.WithCancel(context.Background())
	defer stopAdmin()
	go func() { adminDone <- p.admin.Serve(adminCtx, ln) }()
	if p.cfg.DeferMaxAge == 0 {
		p.deriveDeferMaxAge(ctx)
	}
	if p.cfg.WatchdogTimeout > 0 {
		go p.watchdog(runCtx, cancel)
	}
	p.log.Info().Str("group", p.cfg.Group).Str("topic", p.cfg.Topic).Str("admin", ln.Addr().String()).Msg("consuming")
	go func() {
		<-runCtx.Done()
		p.admin.Drain()
	}()
	if err := p.parts.Consumer.Run(runCtx); err != nil {
		return err
	}
	stopAdmin()
	if err := <-adminDone; err != nil {
		p.log.Warn().Err(err).Msg("admin server")
	}
	if cause := context.Cause(runCtx); errors.Is(cause, consumer.ErrWedged) {
		return cause
	}
	p.log.Info().Msg("stopped cleanly")
	return nil
}

// deriveDeferMaxAge sets INVITEPIPE_DEFER_MAX_AGE's default: half the rows topic's
// retention, so a waiting message is dead-lettered long before Kafka deletes it.
func (p *pipeline) deriveDeferMaxAge(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	retention, err := p.parts.Consumer.Retention(rctx)
	switch {
	case err != nil:
		p.log.Warn().Err(err).Msg("cannot read the topic's retention: messages waiting for their destination never expire; set INVITEPIPE_DEFER_MAX_AGE well below it")
	case retention == 0:
		p.log.Info().Msg("the topic keeps messages forever: messages waiting for their destination never expire")
	default:
		p.parts.Consumer.SetDeferMaxAge(retention / 2)
		p.log.Info().Dur("retention", retention).Dur("defer_max_age", retention/2).Msg("messages waiting for their destination longer than defer_max_age are dead-lettered as deferred_expired")
	}
}

// watchdog stops the consumer once Consumer.Watchdog finds it wedged.
func (p *pipeline) watchdog(ctx context.Context, stop context.CancelCauseFunc) {
	paused := func() bool { return len(p.parts.Handler.Paused()) > 0 }
	if err := p.parts.Consumer.Watchdog(ctx, p.cfg.WatchdogTimeout, paused); err != nil {
		p.log.Error().Err(err).Msg("no progress while the group has lag: stopping so the pod is restarted")
		stop(err)
	}
}

func (p *pipeline) close() {
	if err := p.parts.Close(); err != nil {
		p.log.Warn().Err(err).Msg("closing")
	}
}
