package replay

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/progress"
)

// Progress reads and forgets the consumer's records of offsets done past the committed
// one (*progress.Store in production).
type Progress interface {
	Load(ctx context.Context, group, topic string, partition int) (progress.Snapshot, error)
	Clear(ctx context.Context, group, topic string, partitions []int) error
}

// Replayer plans and executes replays of one group on one topic.
type Replayer struct {
	client   *kafka.Client
	progress Progress
	group    string
	topic    string
}

// New returns a Replayer of group on topic, reaching Kafka through conn.
func New(conn *kafkaconn.Conn, p Progress, group, topic string) (*Replayer, error) {
	if group == "" || topic == "" {
		return nil, errors.New("replay: a group and a topic are required")
	}
	return &Replayer{
		client:   &kafka.Client{Addr: kafka.TCP(conn.Brokers...), Transport: conn.Transport},
		progress: p,
		group:    group,
		topic:    topic,
	}, nil
}

// Member is one member of the group.
type Member struct {
	ID, ClientID, Host string
}

// Plan is what a replay would do: per partition, from which offset to which.
type Plan struct {
	Group, Topic string
	Target       Target
	// State is the group's state when planned (Empty, Stable, ...; Dead: no such group)
	// and Members its members then.
	State   string
	Members []Member
	// Partitions are the partitions the target names, by id.
	Partitions []Partition
}

// Partition is one partition's part of a plan.
type Partition struct {
	ID int
	// Committed is the group's committed offset; -1 when it has none.
	Committed int64
	// LogStart and LogEnd bound the partition's log: its first offset and the offset
	// after its last message.
	LogStart, LogEnd int64
	// Target is where the replay moves the group.
	Target int64
	// Unsent is how many of the offsets a forward move skips are not recorded done in
	// the progress records: rows deferred for a waiting destination or never handled.
	Unsent int64
}

// From is where the group resumes the partition now: its committed offset, or the log
// start when it has none (the consumer starts a new group at the earliest offset) or
// when retention deleted the committed offset.
func (p Partition) From() int64 {
	if p.Committed < p.LogStart {
		return p.LogStart
	}
	return p.Committed
}

// Moves reports whether executing the plan commits this partition.
func (p Partition) Moves() bool { return p.Committed != p.Target }

// ReadAgain is how many offsets a backward move reads again.
func (p Partition) ReadAgain() int64 { return max(0, p.From()-p.Target) }

// Skipped is how many offsets a forward move skips.
func (p Partition) Skipped() int64 { return max(0, p.Target-p.From()) }

// Active reports whether the group was active (had members, or was rebalancing) when
// planned.
func (p *Plan) Active() bool { return groupActive(p.State, p.Members) }

func groupActive(state string, members []Member) bool {
	return len(members) > 0 || (state != "Empty" && state != "Dead")
}

// ErrGroupActive is wrapped by the error of a replay refused because the group has
// members: moving offsets under running consumers would be undone by their next commit.
var ErrGroupActive = errors.New("the group has active members")

// ErrSkipsUnsent is wrapped by the error of a forward move refused because it would
// skip rows never sent.
var ErrSkipsUnsent = errors.New("the move skips rows that were never sent")

// ErrChanged is wrapped by Execute's error when the group's offsets moved since the plan.
var ErrChanged = errors.New("the committed offsets changed since the plan")

// Check returns why the plan must not be executed: the group is active
// (ErrGroupActive), or it skips rows never sent and skipUnsent is false (ErrSkipsUnsent).
func (p *Plan) Check(skipUnsent bool) error {
	if p.Active() {
		return activeError(p.Group, p.State, p.Members)
	}
	var unsent []string
	for _, pt := range p.Partitions {
		if pt.Unsent > 0 {
			unsent = append(unsent, fmt.Sprintf("partition %d: %d", pt.ID, pt.Unsent))
		}
	}
	if len(unsent) > 0 && !skipUnsent {
		return fmt.Errorf("%w (deferred for a waiting destination, or not handled yet): %s", ErrSkipsUnsent, strings.Join(unsent, ", "))
	}
	return nil
}

func activeError(group, state string, members []Member) error {
	if len(members) == 0 {
		return fmt.Errorf("%w: group %s is %s", ErrGroupActive, group, state)
	}
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = fmt.Sprintf("%s on host %s", m.ClientID, m.Host)
	}
	return fmt.Errorf("%w: group %s has %d active member(s) (%s)", ErrGroupActive, group, len(members), strings.Join(names, ", "))
}

// Plan computes what replaying to target would do. It changes nothing.
func (r *Replayer) Plan(ctx context.Context, target Target) (*Plan, error) {
	ids, err := r.partitions(ctx)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Group: r.group, Topic: r.topic, Target: target}
	if plan.State, plan.Members, err = r.describe(ctx); err != nil {
		return nil, err
	}
	if target.kind == explicit {
		var missing []string
		for _, p := range slices.Sorted(maps.Keys(target.offsets)) {
			if !slices.Contains(ids, p) {
				missing = append(missing, fmt.Sprint(p))
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%w: topic %s has no partition %s (it has %d: 0 to %d)", ErrTarget, r.topic, strings.Join(missing, ", "), len(ids), len(ids)-1)
		}
		ids = slices.Sorted(maps.Keys(target.offsets))
	}
	starts, err := r.listOffsets(ctx, ids, kafka.FirstOffsetOf, func(po kafka.PartitionOffsets) int64 { return po.FirstOffset })
	if err != nil {
		return nil, err
	}
	ends, err := r.listOffsets(ctx, ids, kafka.LastOffsetOf, func(po kafka.PartitionOffsets) int64 { return po.LastOffset })
	if err != nil {
		return nil, err
	}
	var byTime map[int]int64
	if target.kind == atTime {
		byTime, err = r.listOffsets(ctx, ids, func(p int) kafka.OffsetRequest { return kafka.TimeOffsetOf(p, target.at) }, timeOffset)
		if err != nil {
			return nil, err
		}
	}
	committed, err := r.committed(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		pt := Partition{ID: id, Committed: committed[id], LogStart: starts[id], LogEnd: ends[id]}
		switch target.kind {
		case earliest:
			pt.Target = pt.LogStart
		case latest:
			pt.Target = pt.LogEnd
		case atTime:
			pt.Target = byTime[id]
			if pt.Target < 0 { // no message at or after the time
				pt.Target = pt.LogEnd
			}
		case explicit:
			pt.Target = target.offsets[id]
			if pt.Target < pt.LogStart || pt.Target > pt.LogEnd {
				return nil, fmt.Errorf("%w: offset %d of partition %d is outside its log [%d, %d]: pick an offset in it, or earliest or latest", ErrTarget, pt.Target, id, pt.LogStart, pt.LogEnd)
			}
		}
		if pt.Skipped() > 0 {
			snap, err := r.progress.Load(ctx, r.group, r.topic, id)
			if err != nil {
				return nil, fmt.Errorf("replay: which offsets of partition %d are done: %w", id, err)
			}
			pt.Unsent = notDone(snap, pt.From(), pt.Target)
		}
		plan.Partitions = append(plan.Partitions, pt)
	}
	return plan, nil
}

// notDone counts the offsets in [from, to) that snap does not record done.
func notDone(snap progress.Snapshot, from, to int64) int64 {
	var n int64
	for o := from; o < to; o++ {
		if !snap.Has(o) {
			n++
		}
	}
	return n
}

// Execute carries plan out: it checks the plan (see Plan.Check) and that the group is
// still empty with the offsets the plan saw, clears the progress records of the
// partitions that move, then commits their targets.
func (r *Replayer) Execute(ctx context.Context, plan *Plan, skipUnsent bool) error {
	if plan.Group != r.group || plan.Topic != r.topic {
		return fmt.Errorf("replay: the plan is for group %s on topic %s, not group %s on %s", plan.Group, plan.Topic, r.group, r.topic)
	}
	if err := plan.Check(skipUnsent); err != nil {
		return err
	}
	state, members, err := r.describe(ctx)
	if err != nil {
		return err
	}
	if groupActive(state, members) {
		return activeError(r.group, state, members)
	}
	var moved []int
	var commits []kafka.OffsetCommit
	for _, pt := range plan.Partitions {
		if pt.Moves() {
			moved = append(moved, pt.ID)
			commits = append(commits, kafka.OffsetCommit{Partition: pt.ID, Offset: pt.Target})
		}
	}
	if len(moved) == 0 {
		return nil
	}
	now, err := r.committed(ctx, moved)
	if err != nil {
		return err
	}
	for _, pt := range plan.Partitions {
		if c, ok := now[pt.ID]; ok && c != pt.Committed {
			return fmt.Errorf("%w: partition %d was at %d, is at %d: plan again", ErrChanged, pt.ID, pt.Committed, c)
		}
	}
	// Clear first, commit second. A crash in between leaves the old offsets with no
	// records: the next owner handles the rows past the committed offset again, which
	// the ledger makes harmless, and the replay can simply be run again. The other order
	// could leave the new offsets with the old records, and the next owner would skip,
	// as done, offsets the replay was meant to read again.
	if err := r.progress.Clear(ctx, r.group, r.topic, moved); err != nil {
		return fmt.Errorf("replay: nothing committed: %w", err)
	}
	// Generation -1 and no member id: the broker takes such a commit only while the
	// group has no member, so a consumer that joined since the check makes it fail.
	resp, err := r.client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{
		GroupID:      r.group,
		GenerationID: -1,
		Topics:       map[string][]kafka.OffsetCommit{r.topic: commits},
	})
	if err != nil {
		return fmt.Errorf("replay: commit the group's offsets: %w", err)
	}
	var errs []error
	for _, p := range resp.Topics[r.topic] {
		switch {
		case errors.Is(p.Error, kafka.UnknownMemberId):
			return fmt.Errorf("%w: a member joined group %s since the check; nothing committed (progress records cleared, which costs only redone work)", ErrGroupActive, r.group)
		case p.Error != nil:
			errs = append(errs, fmt.Errorf("partition %d: %w", p.Partition, p.Error))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("replay: commit the group's offsets: %w", errors.Join(errs...))
	}
	return nil
}

// partitions returns the topic's partition ids, sorted.
func (r *Replayer) partitions(ctx context.Context) ([]int, error) {
	meta, err := r.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{r.topic}})
	if err != nil {
		return nil, fmt.Errorf("replay: metadata of topic %s: %w", r.topic, err)
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil || len(meta.Topics[0].Partitions) == 0 {
		return nil, fmt.Errorf("replay: topic %s not found: check --topic or INVITEPIPE_KAFKA_TOPIC", r.topic)
	}
	ids := make([]int, 0, len(meta.Topics[0].Partitions))
	for _, p := range meta.Topics[0].Partitions {
		ids = append(ids, p.ID)
	}
	slices.Sort(ids)
	return ids, nil
}

// describe returns the group's state and members.
func (r *Replayer) describe(ctx context.Context) (string, []Member, error) {
	resp, err := r.client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{r.group}})
	if err != nil {
		return "", nil, fmt.Errorf("replay: describe group %s: %w", r.group, err)
	}
	if len(resp.Groups) != 1 {
		return "", nil, fmt.Errorf("replay: describe group %s: %d groups in the answer", r.group, len(resp.Groups))
	}
	g := resp.Groups[0]
	if g.Error != nil {
		return "", nil, fmt.Errorf("replay: describe group %s: %w", r.group, g.Error)
	}
	members := make([]Member, len(g.Members))
	for i, m := range g.Members {
		members[i] = Member{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost}
	}
	return g.GroupState, members, nil
}

// listOffsets asks, in one request, one offset per partition: req builds each request
// and pick reads its answer. A broker refuses a partition twice in one request: one
// kind of offset per call.
func (r *Replayer) listOffsets(ctx context.Context, ids []int, req func(int) kafka.OffsetRequest, pick func(kafka.PartitionOffsets) int64) (map[int]int64, error) {
	reqs := make([]kafka.OffsetRequest, len(ids))
	for i, id := range ids {
		reqs[i] = req(id)
	}
	resp, err := r.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{r.topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("replay: list offsets of %s: %w", r.topic, err)
	}
	out := make(map[int]int64, len(ids))
	for _, po := range resp.Topics[r.topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("replay: list offsets of partition %d: %w", po.Partition, po.Error)
		}
		out[po.Partition] = pick(po)
	}
	if len(out) != len(ids) {
		return nil, fmt.Errorf("replay: list offsets of %s: %d of %d partitions answered", r.topic, len(out), len(ids))
	}
	return out, nil
}

// timeOffset reads the answer to a time's offset request: the first offset at or after
// the time, -1 when no message is.
func timeOffset(po kafka.PartitionOffsets) int64 {
	for o := range po.Offsets {
		return o
	}
	return -1
}

// committed returns the group's committed offset of each partition (-1: none).
func (r *Replayer) committed(ctx context.Context, ids []int) (map[int]int64, error) {
	resp, err := r.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: r.group, Topics: map[string][]int{r.topic: ids}})
	if err != nil {
		return nil, fmt.Errorf("replay: committed offsets of group %s: %w", r.group, err)
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("replay: committed offsets of group %s: %w", r.group, resp.Error)
	}
	out := make(map[int]int64, len(ids))
	for _, p := range resp.Topics[r.topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("replay: committed offset of partition %d: %w", p.Partition, p.Error)
		}
		out[p.Partition] = p.CommittedOffset
	}
	return out, nil
}
