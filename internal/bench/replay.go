package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/progress"
	"github.com/invitepipe/invitepipe/internal/replay"
)

// Replay is the replay pass of a run (Options.Replay): every row read again, each valid
// one a duplicate.
type Replay struct {
	// Rows is the group's lag once it was moved back: every row, read again.
	Rows int64 `json:"rows"`
	// Seconds is the window: from the moment the bench saw the group joined (it looks
	// every 100 ms; the consumers may have started on the rows just before) to its last
	// commit (commits come once a second, so the window may be up to a second long at
	// its end). A pass that ends before the bench sees the join has a window near 0 and
	// says nothing of the rate: replay more rows.
	Seconds       float64 `json:"seconds"`
	RowsPerSecond float64 `json:"rows_per_second"`
	// NewInvitations is what the sandbox accepted during the pass: must be 0.
	NewInvitations int `json:"new_invitations"`
	// DeadLettered is what the pass added to the dead-letter topic: the bad rows again.
	DeadLettered int64  `json:"dead_lettered"`
	Parts        []Part `json:"parts"`
}

// replay moves the stopped group back to the start of the rows topic, clearing its
// progress records as `invitepipe replay --execute` does, runs the consumers again
// until they committed every row, and measures that pass.
func (r *runner) replay(ctx context.Context, f *activation.File) (*Replay, error) {
	rdb, err := r.cfg.Redis.Client()
	if err != nil {
		return nil, err
	}
	defer rdb.Close()
	store, err := progress.New(rdb, time.Hour)
	if err != nil {
		return nil, err
	}
	rp, err := replay.New(r.conn, store, r.cfg.Group, r.cfg.Topic)
	if err != nil {
		return nil, err
	}
	to, err := replay.ParseTarget("earliest")
	if err != nil {
		return nil, err
	}
	plan, err := rp.Plan(ctx, to)
	if err != nil {
		return nil, fmt.Errorf("bench: replay: %w", err)
	}
	if err := rp.Execute(ctx, plan, false); err != nil {
		return nil, fmt.Errorf("bench: replay: %w", err)
	}
	acceptedBefore := r.sb.Stats().AcceptedInvitations
	deadBefore, rows := r.kafkaState(ctx)
	if deadBefore < 0 || rows < 0 {
		return nil, errors.New("bench: replay: cannot read the dead-letter topic's size or the group's lag from Kafka")
	}
	cons, err := r.startConsumers(ctx, f)
	if err != nil {
		return nil, err
	}
	rep, err := r.measureReplay(ctx, cons, rows)
	if err = errors.Join(err, cons.stop()); err != nil {
		return nil, err
	}
	rep.NewInvitations = r.sb.Stats().AcceptedInvitations - acceptedBefore
	// The dead letters of the pass's last rows may land after their commit: wait for
	// them, as the run does.
	dead, err := r.waitDead(ctx, deadBefore+int64(r.wl.bad))
	rep.DeadLettered = dead - deadBefore
	return rep, err
}

// waitDead waits until the dead-letter topic holds want records, or the timeout, and
// returns how many it holds.
func (r *runner) waitDead(ctx context.Context, want int64) (int64, error) {
	deadline := time.Now().Add(r.o.Timeout)
	for {
		dead, _ := r.kafkaState(ctx)
		if dead >= want || time.Now().After(deadline) {
			return dead, nil
		}
		select {
		case <-ctx.Done():
			return dead, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// measureReplay waits for the consumers to join and then to commit every row of the
// pass's rows.
func (r *runner) measureReplay(ctx context.Context, cons consumers, rows int64) (*Replay, error) {
	if err := r.waitJoined(ctx, cons, max(r.o.Processes, 1)); err != nil {
		return nil, err
	}
	parts := r.parts(cons)
	for i := range parts {
		parts[i].begin()
	}
	start := time.Now()
	deadline := time.NewTimer(r.o.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for _, left := r.kafkaState(ctx); left != 0; _, left = r.kafkaState(ctx) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, fmt.Errorf("bench: replay: the group still had lag %d after %s (--timeout)", left, r.o.Timeout)
		case <-tick.C:
		}
		if err := cons.exited(); err != nil {
			return nil, err
		}
	}
	secs := time.Since(start).Seconds()
	for i := range parts {
		parts[i].finish()
		if rows > 0 {
			parts[i].CPUPer1000 = parts[i].CPUSeconds * 1000 / float64(rows)
		}
	}
	rep := &Replay{Rows: rows, Seconds: secs, Parts: parts}
	if secs > 0 {
		rep.RowsPerSecond = float64(rows) / secs
	}
	return rep, nil
}
