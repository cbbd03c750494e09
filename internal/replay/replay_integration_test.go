package replay_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/progress"
	"github.com/invitepipe/invitepipe/internal/replay"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// rowsPerPartition is the topic of every test: partition 0 holds 10 rows, partition 1
// holds 6, partition 2 none. Row i of a partition has the timestamp base + i seconds.
var rowsPerPartition = []int{10, 6, 0}

// fixture is a topic with known offsets and timestamps on the real broker, and the real
// Redis for the progress records.
type fixture struct {
	t      *testing.T
	conn   *kafkaconn.Conn
	client *kafka.Client
	store  *progress.Store
	topic  string
	base   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	brokers := testenv.Kafka(t)
	store, err := progress.New(testenv.RedisClient(t), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		t:      t,
		conn:   &kafkaconn.Conn{Brokers: brokers, Dialer: &kafka.Dialer{Timeout: 10 * time.Second}, Transport: &kafka.Transport{}},
		client: &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second},
		store:  store,
		topic:  testenv.UniqueName(t, "rows"),
		base:   time.Now().Add(-time.Hour).Truncate(time.Second),
	}
	testenv.CreateTopic(t, brokers, f.topic, len(rowsPerPartition))
	var msgs []kafka.Message
	for p, n := range rowsPerPartition {
		for i := range n {
			msgs = append(msgs, kafka.Message{Partition: p, Key: fmt.Appendf(nil, "p%d-%d", p, i), Value: []byte(`{}`), Time: f.base.Add(time.Duration(i) * time.Second)})
		}
	}
	// Each message goes to the partition it names, in order.
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: f.topic, RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond,
		Balancer: kafka.BalancerFunc(func(m kafka.Message, _ ...int) int { return m.Partition })}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce: %v", err)
	}
	ends := testenv.EndOffsets(t, f.client, f.topic)
	for p, n := range rowsPerPartition {
		if ends[p] != int64(n) {
			t.Fatalf("partition %d ends at %d, want %d", p, ends[p], n)
		}
	}
	return f
}

// group is a fresh group of the fixture's topic with offsets committed (partitions
// absent from committed have none) and progress records saved.
type group struct {
	*fixture
	id string
	r  *replay.Replayer
}

func (f *fixture) group(committed map[int]int64, records map[int]progress.Snapshot) *group {
	f.t.Helper()
	g := &group{fixture: f, id: testenv.UniqueName(f.t, "group")}
	if len(committed) > 0 {
		g.commit(committed)
	}
	ctx := context.Background()
	for p, snap := range records {
		if err := f.store.Save(ctx, g.id, f.topic, p, 1, snap); err != nil {
			f.t.Fatal(err)
		}
	}
	r, err := replay.New(f.conn, f.store, g.id, f.topic)
	if err != nil {
		f.t.Fatal(err)
	}
	g.r = r
	return g
}

// commit commits offsets for the group as a client outside it.
func (g *group) commit(offsets map[int]int64) {
	g.t.Helper()
	var commits []kafka.OffsetCommit
	for p, o := range offsets {
		commits = append(commits, kafka.OffsetCommit{Partition: p, Offset: o})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := g.client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: g.id, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{g.topic: commits}})
	if err != nil {
		g.t.Fatalf("commit: %v", err)
	}
	for _, p := range resp.Topics[g.topic] {
		if p.Error != nil {
			g.t.Fatalf("commit partition %d: %v", p.Partition, p.Error)
		}
	}
}

// committed returns the group's committed offsets of every partition (-1: none).
func (g *group) committed() map[int]int64 {
	g.t.Helper()
	got := testenv.CommittedOffsets(g.client, g.id, g.topic, []int{0, 1, 2})
	if got == nil {
		g.t.Fatal("the broker did not answer the offset fetch")
	}
	return got
}

// records returns, per partition, whether the group has a progress record.
func (g *group) records() map[int]bool {
	g.t.Helper()
	out := map[int]bool{}
	for p := range rowsPerPartition {
		snap, err := g.store.Load(context.Background(), g.id, g.topic, p)
		if err != nil {
			g.t.Fatal(err)
		}
		out[p] = len(snap.Done) > 0
	}
	return out
}

// checkUntouched asserts that partition 0 is still committed at want and still has its
// progress record after a replay that was refused (why).
func (g *group) checkUntouched(want int64, why string) {
	g.t.Helper()
	if got := g.committed()[0]; got != want {
		g.t.Fatalf("%s moved partition 0 to %d, want it still at %d", why, got, want)
	}
	if !g.records()[0] {
		g.t.Fatalf("%s cleared the progress record of partition 0", why)
	}
}

func (g *group) plan(to string) (*replay.Plan, error) {
	g.t.Helper()
	target, err := replay.ParseTarget(to)
	if err != nil {
		g.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return g.r.Plan(ctx, target)
}

func (g *group) mustPlan(to string) *replay.Plan {
	g.t.Helper()
	plan, err := g.plan(to)
	if err != nil {
		g.t.Fatalf("plan --to %s: %v", to, err)
	}
	return plan
}

func (g *group) execute(plan *replay.Plan, skipUnsent bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return g.r.Execute(ctx, plan, skipUnsent)
}

// doneAt is a record starting at from with the given offsets done.
func doneAt(from int64, offsets ...int64) progress.Snapshot {
	snap := progress.Snapshot{From: from, Done: make([]byte, 2)}
	for _, o := range offsets {
		i := o - from
		snap.Done[i/8] |= 1 << (i % 8)
	}
	return snap
}

// row is what a plan says of one partition.
type row struct {
	committed, target, readAgain, skipped, unsent int64
}

func rows(plan *replay.Plan) map[int]row {
	out := map[int]row{}
	for _, p := range plan.Partitions {
		out[p.ID] = row{p.Committed, p.Target, p.ReadAgain(), p.Skipped(), p.Unsent}
	}
	return out
}

// TestPlan computes plans against a group committed at 4 on partition 0 (offsets 6 and 7
// recorded done past it) and without a commit on partitions 1 and 2 (which resume at
// their log start, 0).
func TestPlan(t *testing.T) {
	f := newFixture(t)
	g := f.group(map[int]int64{0: 4}, map[int]progress.Snapshot{0: doneAt(4, 6, 7)})
	tests := []struct {
		name string
		to   string
		want map[int]row
	}{
		{"earliest reads partition 0 again from 0", "earliest", map[int]row{
			0: {4, 0, 4, 0, 0}, 1: {-1, 0, 0, 0, 0}, 2: {-1, 0, 0, 0, 0}}},
		{"latest skips what is not done, rows 6 and 7 excepted", "latest", map[int]row{
			0: {4, 10, 0, 6, 4}, 1: {-1, 6, 0, 6, 6}, 2: {-1, 0, 0, 0, 0}}},
		{"a time maps to the first row at or after it", f.base.Add(3 * time.Second).Format(time.RFC3339), map[int]row{
			0: {4, 3, 1, 0, 0}, 1: {-1, 3, 0, 3, 3}, 2: {-1, 0, 0, 0, 0}}},
		{"a time between two rows maps to the later one", f.base.Add(5500 * time.Millisecond).Format(time.RFC3339Nano), map[int]row{
			0: {4, 6, 0, 2, 2}, 1: {-1, 6, 0, 6, 6}, 2: {-1, 0, 0, 0, 0}}},
		{"a time after every row maps to the log end", f.base.Add(time.Hour).Format(time.RFC3339), map[int]row{
			0: {4, 10, 0, 6, 4}, 1: {-1, 6, 0, 6, 6}, 2: {-1, 0, 0, 0, 0}}},
		{"explicit offsets move only the partitions named", "0:8,1:2", map[int]row{
			0: {4, 8, 0, 4, 2}, 1: {-1, 2, 0, 2, 2}}},
		{"an explicit offset may be the log end", "0:10", map[int]row{
			0: {4, 10, 0, 6, 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := g.mustPlan(tt.to)
			if got := rows(plan); !maps.Equal(got, tt.want) {
				t.Fatalf("plan --to %s:\n got %v\nwant %v", tt.to, got, tt.want)
			}
			if plan.Active() {
				t.Fatalf("an empty group planned as active: state %s, members %v", plan.State, plan.Members)
			}
		})
	}
}

// TestPlanRefusesBadTargets: explicit offsets outside the log and partitions the topic
// lacks are refused, naming what is wrong.
func TestPlanRefusesBadTargets(t *testing.T) {
	f := newFixture(t)
	g := f.group(map[int]int64{0: 4}, nil)
	tests := []struct {
		name, to, want string
	}{
		{"past the log end", "0:11", "offset 11 of partition 0 is outside its log [0, 10]"},
		{"in an empty partition", "2:1", "offset 1 of partition 2 is outside its log [0, 0]"},
		{"a partition the topic lacks", "0:1,7:0", "has no partition 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := g.plan(tt.to)
			if !errors.Is(err, replay.ErrTarget) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("plan --to %s: error %v, want ErrTarget saying %q", tt.to, err, tt.want)
			}
		})
	}
}

// TestExecute moves the offsets exactly as planned and clears the progress records of
// the partitions moved, and only theirs.
func TestExecute(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name          string
		to            string
		wantCommitted map[int]int64
		wantRecords   map[int]bool
	}{
		{"earliest moves and clears every partition", "earliest", map[int]int64{0: 0, 1: 0, 2: 0}, map[int]bool{0: false, 1: false, 2: false}},
		{"explicit offsets move and clear only the partitions named", "0:1", map[int]int64{0: 1, 1: 6, 2: -1}, map[int]bool{0: false, 1: true, 2: true}},
		{"a partition already at its target keeps its record", "0:1,1:6", map[int]int64{0: 1, 1: 6, 2: -1}, map[int]bool{0: false, 1: true, 2: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := f.group(map[int]int64{0: 4, 1: 6}, map[int]progress.Snapshot{0: doneAt(4, 6, 7), 1: doneAt(6), 2: doneAt(0, 1)})
			plan := g.mustPlan(tt.to)
			if err := g.execute(plan, false); err != nil {
				t.Fatalf("execute: %v", err)
			}
			committed := g.committed()
			if !maps.Equal(committed, tt.wantCommitted) {
				t.Errorf("committed %v, want %v", committed, tt.wantCommitted)
			}
			for _, p := range plan.Partitions {
				if committed[p.ID] != p.Target {
					t.Errorf("partition %d committed at %d, the plan said %d", p.ID, committed[p.ID], p.Target)
				}
			}
			if got := g.records(); !maps.Equal(got, tt.wantRecords) {
				t.Errorf("progress records present %v, want %v", got, tt.wantRecords)
			}
			if again := g.mustPlan(tt.to); slices.ContainsFunc(again.Partitions, replay.Partition.Moves) {
				t.Errorf("after the replay, a plan to the same target still moves: %v", rows(again))
			}
		})
	}
}

// TestLatestWithUnsentRows: moving to latest over rows not recorded done is refused
// without skipUnsent, changing nothing, and goes through with it.
func TestLatestWithUnsentRows(t *testing.T) {
	f := newFixture(t)
	g := f.group(map[int]int64{0: 4, 1: 6}, map[int]progress.Snapshot{0: doneAt(4, 6, 7)})
	plan := g.mustPlan("latest")

	err := plan.Check(false)
	if !errors.Is(err, replay.ErrSkipsUnsent) || !strings.Contains(err.Error(), "partition 0: 4") || strings.Contains(err.Error(), "partition 1") {
		t.Fatalf("check: %v, want ErrSkipsUnsent naming 4 rows of partition 0 only", err)
	}
	if err := g.execute(plan, false); !errors.Is(err, replay.ErrSkipsUnsent) {
		t.Fatalf("execute without skipUnsent: %v, want ErrSkipsUnsent", err)
	}
	g.checkUntouched(4, "a replay refused for unsent rows")

	if err := g.execute(plan, true); err != nil {
		t.Fatalf("execute with skipUnsent: %v", err)
	}
	if got := g.committed(); !maps.Equal(got, map[int]int64{0: 10, 1: 6, 2: 0}) {
		t.Fatalf("committed %v, want every partition at its log end", got)
	}
	if g.records()[0] {
		t.Fatal("the record of partition 0 survived the move")
	}
}

// TestExecuteRefusesAStalePlan: offsets committed after the plan was made stop it.
func TestExecuteRefusesAStalePlan(t *testing.T) {
	f := newFixture(t)
	g := f.group(map[int]int64{0: 4}, map[int]progress.Snapshot{0: doneAt(4, 6)})
	plan := g.mustPlan("earliest")
	g.commit(map[int]int64{0: 5})
	if err := g.execute(plan, false); !errors.Is(err, replay.ErrChanged) {
		t.Fatalf("execute: %v, want ErrChanged", err)
	}
	g.checkUntouched(5, "a stale plan")
}

// TestRefusesActiveGroup: while a real member is in the group, plans are flagged and
// Execute refuses; once it left, the same replay goes through.
func TestRefusesActiveGroup(t *testing.T) {
	f := newFixture(t)
	g := f.group(map[int]int64{0: 4}, map[int]progress.Snapshot{0: doneAt(4, 6)})
	member, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: g.id, Brokers: f.conn.Brokers, Topics: []string{f.topic},
		SessionTimeout: 6 * time.Second, HeartbeatInterval: time.Second, RebalanceTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			member.Close()
		}
	}()
	joinCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := member.Next(joinCtx); err != nil {
		t.Fatalf("the member did not join within 30s: %v", err)
	}

	plan := g.mustPlan("earliest")
	if !plan.Active() || len(plan.Members) != 1 {
		t.Fatalf("plan of a group with a member: state %s, members %v; want active with 1 member", plan.State, plan.Members)
	}
	if err := plan.Check(false); !errors.Is(err, replay.ErrGroupActive) || !strings.Contains(err.Error(), "1 active member") {
		t.Fatalf("check: %v, want ErrGroupActive naming 1 active member", err)
	}
	if err := g.execute(plan, true); !errors.Is(err, replay.ErrGroupActive) {
		t.Fatalf("execute: %v, want ErrGroupActive", err)
	}
	g.checkUntouched(4, "a replay of an active group")

	if err := member.Close(); err != nil {
		t.Fatalf("close the member: %v", err)
	}
	closed = true
	testenv.WaitFor(t, 30*time.Second, "the group to be empty", func() bool {
		p, err := g.plan("earliest")
		return err == nil && !p.Active()
	})
	if err := g.execute(g.mustPlan("earliest"), false); err != nil {
		t.Fatalf("execute once the group is empty: %v", err)
	}
	if got := g.committed()[0]; got != 0 {
		t.Fatalf("partition 0 committed at %d, want 0", got)
	}
}
