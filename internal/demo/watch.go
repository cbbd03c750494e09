package demo

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/schollz/progressbar/v3"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/lane"
	"github.com/invitepipe/invitepipe/internal/metrics"
	"github.com/invitepipe/invitepipe/internal/wiring"
)

// Pace of the progress: how often the counters are read, and how often a plain line may
// be printed.
const (
	watchTick  = 100 * time.Millisecond
	plainEvery = time.Second
)

// watch follows the consumer until every row has its outcome, showing the progress.
type watch struct {
	parts    *wiring.Consumer
	dests    []string
	out      io.Writer
	terminal bool
	bar      *progressbar.ProgressBar // on a terminal; nil otherwise
	timeout  time.Duration
	// last plain line and when it was printed.
	lastLine string
	lastAt   time.Time
}

func newWatch(f *activation.File, parts *wiring.Consumer, opts Options) *watch {
	w := &watch{parts: parts, out: opts.Out, terminal: opts.Terminal, timeout: opts.Timeout}
	for _, d := range f.Destinations {
		w.dests = append(w.dests, d.Name)
	}
	return w
}

// status is what the consumer did so far.
type status struct {
	sent, duplicates, deadLettered int64
	waiting                        int
	why                            []string // per waiting destination: "brand: cooling"
}

func (s status) outcomes() int64 { return s.sent + s.duplicates + s.deadLettered }

func (w *watch) status() status {
	m := w.parts.Metrics
	s := status{
		sent:         count(m.Messages.WithLabelValues(metrics.OutcomeSent)),
		duplicates:   count(m.Messages.WithLabelValues(metrics.OutcomeDuplicate)),
		deadLettered: count(m.Messages.WithLabelValues(metrics.OutcomeDLQ)),
		waiting:      w.parts.Consumer.Deferred(),
	}
	for _, d := range w.dests {
		for _, r := range lane.Reasons {
			if count(m.DestinationWaiting.WithLabelValues(d, string(r))) > 0 {
				s.why = append(s.why, d+": "+string(r))
			}
		}
	}
	return s
}

// until returns once total rows have an outcome and the group committed them all, or
// with an error when ctx ends, the consumer stops, or Options.Timeout passes first.
func (w *watch) until(ctx context.Context, total int64, consumerDone <-chan struct{}, consumerErr *error) error {
	if w.terminal {
		w.bar = newBar(w.out, total)
	}
	deadline := time.NewTimer(w.timeout)
	defer deadline.Stop()
	tick := time.NewTicker(watchTick)
	defer tick.Stop()
	for {
		s := w.status()
		w.show(s, total)
		if s.outcomes() >= total {
			lag, err := w.parts.Consumer.Lag(ctx)
			if err == nil && lag == 0 {
				w.done(s, total)
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("demo: stopped with %d of %d rows done: %w", s.outcomes(), total, ctx.Err())
		case <-consumerDone:
			return fmt.Errorf("demo: the consumer stopped with %d of %d rows done: %v", s.outcomes(), total, *consumerErr)
		case <-deadline.C:
			return fmt.Errorf("%w: %d of %d rows done after %s, %d waiting (%s)", ErrIncomplete, s.outcomes(), total, w.timeout, s.waiting, strings.Join(s.why, ", "))
		case <-tick.C:
		}
	}
}

// line is the progress in words.
func (s status) line(total int64) string {
	text := fmt.Sprintf("%d/%d rows: %d sent, %d duplicates, %d dead-lettered", s.outcomes(), total, s.sent, s.duplicates, s.deadLettered)
	if s.waiting > 0 {
		text += fmt.Sprintf(", %d waiting", s.waiting)
		if len(s.why) > 0 {
			text += " (" + strings.Join(s.why, ", ") + ")"
		}
	}
	return text
}

// short is the progress in few words, for the live line.
func (s status) short() string {
	text := fmt.Sprintf("sent %d, dup %d, dlq %d", s.sent, s.duplicates, s.deadLettered)
	if s.waiting > 0 {
		text += fmt.Sprintf(", waiting %d %s", s.waiting, strings.Join(s.why, " "))
	}
	return text
}

// show updates the live line, or prints a plain line when the progress changed and the
// last one is older than plainEvery.
func (w *watch) show(s status, total int64) {
	line := s.line(total)
	if w.bar != nil {
		w.bar.Describe(s.short())
		_ = w.bar.Set64(s.outcomes())
		return
	}
	if line != w.lastLine && time.Since(w.lastAt) >= plainEvery {
		fmt.Fprintln(w.out, "progress:", line)
		w.lastLine, w.lastAt = line, time.Now()
	}
}

// done ends the progress with the final counts.
func (w *watch) done(s status, total int64) {
	if w.bar != nil {
		_ = w.bar.Finish()
		fmt.Fprintln(w.out)
	}
	fmt.Fprintln(w.out, "done:", s.line(total))
}

// newBar is the live progress line: rows with an outcome out of total.
func newBar(out io.Writer, total int64) *progressbar.ProgressBar {
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(out),
		progressbar.OptionSetWidth(10),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(false),
		progressbar.OptionThrottle(watchTick),
		progressbar.OptionClearOnFinish(),
	)
}

// count reads a counter's or a gauge's value.
func count(m prometheus.Metric) int64 {
	var d dto.Metric
	if m.Write(&d) != nil {
		return 0
	}
	if c := d.GetCounter(); c != nil {
		return int64(c.GetValue())
	}
	return int64(d.GetGauge().GetValue())
}
