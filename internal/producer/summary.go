package producer

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Reset forgets which rows activation emitted and its cursor, under its lock: its next run
// emits every row of its source again.
func (p *Producer) Reset(ctx context.Context, activation string) error {
	state := NewState(p.Redis, p.KeyPrefix, activation)
	lock, err := state.Acquire(ctx, p.lease())
	if err != nil {
		return err
	}
	defer lock.Release(context.WithoutCancel(ctx))
	return lock.Forget(ctx)
}

// WriteSummaries prints one line per run as a table, then each run's problems.
func WriteSummaries(w io.Writer, sums []Summary) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ACTIVATION\tREAD\tNEW\tEMITTED\tINVALID\tDUPLICATES\tSKIPPED\tHELD\tDURATION\tROWS/S\tRESULT\t")
	for _, s := range sums {
		result := "ok"
		switch {
		case s.Err != nil:
			result = "failed"
		case s.DryRun:
			result = "dry run"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%.0f\t%s\t\n", s.Activation, s.Read, s.New, s.Emitted, s.Invalid, s.Duplicates,
			s.Skipped, s.Held, s.Duration.Round(time.Millisecond), s.RowsPerSecond(), result)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range sums {
		if s.Cursor != "" {
			fmt.Fprintf(w, "%s: cursor %s\n", s.Activation, s.Cursor)
		}
		if s.Backfill && s.Emitted > 0 {
			fmt.Fprintf(w, "%s: %d row(s) emitted as a backfill: the consumer sends each destination's fresh rows first\n", s.Activation, s.Emitted)
		}
		switch {
		case s.Backfill && s.Held > 0 && !s.DryRun:
			fmt.Fprintf(w, "%s: the limit stopped the backfill; %d new row(s) are held for the next backfill run (other runs skip them)\n", s.Activation, s.Held)
		case s.LimitReached:
			fmt.Fprintf(w, "%s: the limit stopped the run; new rows are left for the next run\n", s.Activation)
		}
		if !s.Backfill && s.Held > 0 {
			fmt.Fprintf(w, "%s: %d row(s) held for a backfill were left to the next backfill run (produce --once --backfill)\n", s.Activation, s.Held)
		}
		if s.Err != nil {
			fmt.Fprintf(w, "%s: %s\n", s.Activation, strings.ReplaceAll(s.Err.Error(), "\n", "; "))
		}
		for _, p := range s.Problems {
			fmt.Fprintf(w, "%s: invalid: %s\n", s.Activation, p)
		}
		if more := s.Invalid - int64(len(s.Problems)); more > 0 {
			fmt.Fprintf(w, "%s: invalid: ... and %d more\n", s.Activation, more)
		}
	}
	return nil
}
