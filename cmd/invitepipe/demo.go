package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/demo"
	"github.com/invitepipe/invitepipe/internal/logging"
	"github.com/invitepipe/invitepipe/internal/sandbox"
)

// runDemo runs the whole pipeline in this process and prints what became of each row.
func runDemo(ctx context.Context, args []string, stdout io.Writer) error {
	var cfg config.Demo
	fs := newFlagSet("demo", "demo [--exit] [--kafka BROKERS] [--redis URL] [--trustpilot URL] [--activations FILE]", &cfg, stdout)
	activations := fs.String("activations", demo.DefaultActivations, "activation file; its csv sources are read relative to it")
	kafka := fs.String("kafka", "", "comma-separated brokers of a real Kafka (default: an embedded one); the demo creates its own topics there")
	redisURL := fs.String("redis", "", "URL of a real Redis, redis://[:password@]host:port/db (default: an embedded one)")
	tp := fs.String("trustpilot", "", "token host URL of a real Trustpilot, e.g. https://api.trustpilot.com, with the activation file's credentials in the environment (default: an embedded sandbox)")
	tpInv := fs.String("trustpilot-invitations", "", "invitations host URL with --trustpilot, e.g. https://invitations-api.trustpilot.com (default: the --trustpilot URL)")
	sandboxAddr := fs.String("sandbox-addr", sandbox.DefaultAddr, "listen address of the embedded sandbox")
	partitions := fs.Int("partitions", demo.DefaultPartitions, "partitions of the rows and dead-letter topics")
	throttle := fs.String("throttle", "brand=4s", "DESTINATION=DURATION: the embedded sandbox answers 429 to the destination's calls that long from the start (off: none)")
	timeout := fs.Duration("timeout", demo.DefaultTimeout, "give up when rows still have no outcome after this long")
	exit := fs.Bool("exit", false, "exit after the summary instead of waiting for Ctrl-C")
	logLevel := fs.String("log-level", "error", "level of the parts' JSON logs on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	th, err := parseThrottle(*throttle)
	if err != nil {
		return err
	}
	if err := config.Load(&cfg); err != nil {
		return err
	}
	log, err := logging.New(os.Stderr, *logLevel)
	if err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	opts := demo.Options{
		Activations:           *activations,
		Consumer:              cfg.Consumer,
		Production:            cfg.Production,
		Redis:                 *redisURL,
		Trustpilot:            *tp,
		TrustpilotInvitations: *tpInv,
		SandboxAddr:           *sandboxAddr,
		Partitions:            *partitions,
		Throttle:              th,
		Timeout:               *timeout,
		Stay:                  !*exit,
		Out:                   stdout,
		Terminal:              isTerminal(stdout),
		Log:                   log,
		Version:               version,
	}
	if *kafka != "" {
		opts.Kafka = strings.Split(*kafka, ",")
	}
	_, err = demo.Run(ctx, opts)
	return err
}

// parseThrottle reads --throttle: DESTINATION=DURATION, or off.
func parseThrottle(s string) (demo.Throttle, error) {
	if s == "" || s == "off" {
		return demo.Throttle{}, nil
	}
	name, text, ok := strings.Cut(s, "=")
	d, err := time.ParseDuration(text)
	if !ok || name == "" || err != nil || d < 0 {
		return demo.Throttle{}, fmt.Errorf("--throttle %q: want DESTINATION=DURATION such as brand=4s, or off", s)
	}
	return demo.Throttle{Destination: name, For: d}, nil
}
