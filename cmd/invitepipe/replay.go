package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/progress"
	"github.com/invitepipe/invitepipe/internal/replay"
)

// replayTimeout bounds one replay: a few requests to Kafka and Redis.
const replayTimeout = time.Minute

// stopConsumers is how the consumers of deploy/kubernetes are stopped and started.
const (
	stopConsumers  = "kubectl scale deployment/invitepipe-consumer --replicas=0 (with KEDA: kubectl annotate scaledobject/invitepipe-consumer autoscaling.keda.sh/paused-replicas=0)"
	startConsumers = "kubectl scale deployment/invitepipe-consumer --replicas=N (with KEDA: kubectl annotate scaledobject/invitepipe-consumer autoscaling.keda.sh/paused-replicas-)"
)

// runReplay prints the plan of moving the group's offsets to --to and, with --execute,
// carries it out.
func runReplay(ctx context.Context, args []string, stdout io.Writer) error {
	var cfg config.Replay
	fs := newFlagSet("replay", "replay --to earliest|latest|<RFC 3339 time>|<partition>:<offset>,... [--group G] [--topic T] [--execute] [--skip-unsent]", &cfg, stdout)
	to := fs.String("to", "", "where to move the group: earliest, latest, an RFC 3339 time (the first row at or after it), or partition:offset,... (only those partitions)")
	group := fs.String("group", "", "consumer group (default: $INVITEPIPE_KAFKA_GROUP)")
	topic := fs.String("topic", "", "rows topic (default: $INVITEPIPE_KAFKA_TOPIC)")
	execute := fs.Bool("execute", false, "commit the target offsets and clear the moved partitions' progress records (without it: print the plan, change nothing)")
	skipUnsent := fs.Bool("skip-unsent", false, "allow a forward move to skip rows that were never sent")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	target, err := replay.ParseTarget(*to)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	if err := config.Load(&cfg); err != nil {
		return err
	}
	if *group != "" {
		cfg.Group = *group
	}
	if *topic != "" {
		cfg.Topic = *topic
	}
	conn, err := kafkaconn.New(cfg.Kafka)
	if err != nil {
		return err
	}
	rdb, err := cfg.Redis.Client()
	if err != nil {
		return err
	}
	defer rdb.Close()
	// A replay only loads and clears records; the time to live applies to saves.
	store, err := progress.New(rdb, time.Hour)
	if err != nil {
		return err
	}
	r, err := replay.New(conn, store, cfg.Group, cfg.Topic)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, replayTimeout)
	defer cancel()

	plan, err := r.Plan(ctx, target)
	if err != nil {
		return err
	}
	if err := plan.Write(stdout); err != nil {
		return err
	}
	if err := plan.Check(*skipUnsent); err != nil {
		return replayHint(err)
	}
	if !*execute {
		_, err := fmt.Fprintln(stdout, "plan only: nothing changed; add --execute to move the offsets")
		return err
	}
	if err := r.Execute(ctx, plan, *skipUnsent); err != nil {
		return replayHint(err)
	}
	moved := 0
	for _, pt := range plan.Partitions {
		if pt.Moves() {
			moved++
		}
	}
	_, err = fmt.Fprintf(stdout, "done: %d partition(s) moved, their progress records cleared; start the consumers: %s\n", moved, startConsumers)
	return err
}

// replayHint adds to a refusal the command that lifts it.
func replayHint(err error) error {
	switch {
	case errors.Is(err, replay.ErrGroupActive):
		return fmt.Errorf("%w: stop the consumers first: %s", err, stopConsumers)
	case errors.Is(err, replay.ErrSkipsUnsent):
		return fmt.Errorf("%w: pick an earlier --to, or add --skip-unsent to skip them on purpose", err)
	}
	return err
}
