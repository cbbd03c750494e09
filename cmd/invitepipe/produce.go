package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/metrics"
	"github.com/invitepipe/invitepipe/internal/producer"
)

// idsFlag is a flag that may be given several times.
type idsFlag []string

func (l *idsFlag) String() string     { return strings.Join(*l, ",") }
func (l *idsFlag) Set(v string) error { *l = append(*l, v); return nil }

// runProduce runs one pass over the activations' sources and prints a summary per
// activation (--once), or runs them on their schedules until ctx ends (runSchedule).
func runProduce(ctx context.Context, args []string, stdout io.Writer) error {
	var cfg config.Producer
	fs := newFlagSet("produce", "produce [--once [--dry-run] [--backfill] [--since T] [--limit N]] [--activation ID ...] [--reset --yes] [--activations FILE]", &cfg, stdout)
	once := fs.Bool("once", false, "read each source once, emit its new rows, print a summary and exit (without it: run each activation on its schedule until SIGTERM)")
	var ids idsFlag
	fs.Var(&ids, "activation", "run only this activation (repeatable; default: every activation with a source)")
	dryRun := fs.Bool("dry-run", false, "count what would be emitted: write nothing to Kafka, change no state")
	reset := fs.Bool("reset", false, "forget which rows were emitted (the next run emits every row again); needs --yes")
	yes := fs.Bool("yes", false, "confirm --reset")
	activations := fs.String("activations", "", "activation file (default: $INVITEPIPE_ACTIVATIONS)")
	sinceText := fs.String("since", "", "with --once, mode cursor: skip rows whose cursor column is before this RFC 3339 time; they are not recorded")
	limit := fs.Int64("limit", 0, "with --once: emit at most this many new rows per activation; the rest stay new for the next run (0: no limit)")
	backfill := fs.Bool("backfill", false, "with --once: mark the run's rows as a backfill (\"priority\": \"backfill\"); the consumer sends each destination's fresh rows before them")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	since, err := runBounds(*once, *sinceText, *limit)
	if err != nil {
		return err
	}
	switch {
	case *reset && !*yes:
		return errors.New("--reset forgets which rows were emitted, so the next run emits every row of the source again: add --yes to confirm")
	case *reset && *dryRun:
		return errors.New("--reset and --dry-run do not go together")
	case !*once && *dryRun:
		return errors.New("--dry-run needs --once: schedule mode (without --once) always emits")
	case !*once && *backfill:
		return errors.New("--backfill marks a --once run (a first run over a large history); add --once")
	}
	if err := config.Load(&cfg); err != nil {
		return err
	}
	if *activations != "" {
		cfg.Activations = *activations
	}
	f, err := activation.Load(cfg.Activations)
	if err != nil {
		return err
	}
	specs, err := selectSources(f, ids)
	if err != nil {
		return err
	}
	var scheduled []scheduledSource
	if !*once && !*reset {
		if scheduled, err = scheduledSources(f, specs, ids); err != nil {
			return err
		}
	}
	rdb, err := cfg.Redis.Client()
	if err != nil {
		return err
	}
	defer rdb.Close()
	conn, err := kafkaconn.New(cfg.Kafka)
	if err != nil {
		return err
	}
	w := producer.NewWriter(conn, cfg.Topic, cfg.BatchSize)
	defer w.Close()
	p := &producer.Producer{Redis: rdb, Writer: w, BatchSize: cfg.BatchSize, LockLease: cfg.LockLease}
	m := metrics.NewProducer(version)
	if scheduled != nil {
		return runSchedule(ctx, cfg, scheduled, p, conn, m, stdout)
	}

	if *reset {
		var errs []error
		for _, s := range specs {
			if err := p.Reset(ctx, s.id); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.id, err))
				continue
			}
			fmt.Fprintf(stdout, "%s: state forgotten; its next run emits every row of its source\n", s.id)
		}
		return errors.Join(errs...)
	}

	p.Progress = progressTo(progressStderr)
	dir := filepath.Dir(cfg.Activations)
	sums := make([]producer.Summary, 0, len(specs))
	failed := 0
	for _, s := range specs {
		src, err := s.spec.Open(dir, os.LookupEnv, os.Stdin)
		var sum producer.Summary
		if err != nil {
			sum = producer.Summary{Activation: s.id, DryRun: *dryRun, Err: err}
		} else {
			job := s.spec.Job(s.id, src)
			job.Since, job.Limit, job.Backfill = since, *limit, *backfill
			sum = p.Run(ctx, job, *dryRun)
		}
		observeRun(m, sum)
		if sum.Err != nil {
			failed++
		}
		sums = append(sums, sum)
	}
	if err := producer.WriteSummaries(stdout, sums); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d activation(s) failed (see the summary)", failed, len(sums))
	}
	return nil
}

// progressStderr is where a --once run shows its progress, when it is a terminal.
var progressStderr io.Writer = os.Stderr

// isTerminal reports whether w is a terminal.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressTo returns w when it is a terminal, else nil: no progress output at all.
func progressTo(w io.Writer) io.Writer {
	if w == nil || !isTerminal(w) {
		return nil
	}
	return w
}

// runBounds checks --since and --limit, which bound a --once run.
func runBounds(once bool, sinceText string, limit int64) (time.Time, error) {
	var since time.Time
	if sinceText != "" {
		t, err := time.Parse(time.RFC3339Nano, sinceText)
		if err != nil {
			return time.Time{}, fmt.Errorf("--since %q is not an RFC 3339 time (e.g. 2024-05-01T00:00:00Z)", sinceText)
		}
		since = t
	}
	switch {
	case limit < 0:
		return time.Time{}, fmt.Errorf("--limit %d is negative (0: no limit)", limit)
	case !once && (sinceText != "" || limit != 0):
		return time.Time{}, errors.New("--since and --limit bound a --once run")
	}
	return since, nil
}

// sourceSpec is a selected activation's source.
type sourceSpec struct {
	id   string
	spec producer.Spec
}

// selectSources returns the activations named by ids (all those with a source when none
// is named) with their parsed source blocks, or every problem found.
func selectSources(f *activation.File, ids []string) ([]sourceSpec, error) {
	var selected []*activation.Activation
	var problems []string
	if len(ids) == 0 {
		for i := range f.Activations {
			if f.Activations[i].Source != nil {
				selected = append(selected, &f.Activations[i])
			}
		}
		if len(selected) == 0 {
			return nil, errors.New("no activation has a source: add a source block (type csv, ndjson or postgresql) to one")
		}
	}
	for _, id := range ids {
		a, ok := f.Activation(id)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("--activation %s: no such activation in the file", id))
		case a.Source == nil:
			problems = append(problems, fmt.Sprintf("--activation %s: the activation has no source block", id))
		default:
			selected = append(selected, a)
		}
	}
	var out []sourceSpec
	for _, a := range selected {
		spec, err := producer.ParseSpec(a)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		out = append(out, sourceSpec{id: a.ID, spec: spec})
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return out, nil
}

var _ flag.Value = (*idsFlag)(nil)
