package e2e

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/metrics"
)

// replayRows is how many rows TestReplayAfterFullRunSendsNothingNew sends; set
// INVITEPIPE_E2E_REPLAY_ROWS to measure the skip rate of a larger replay.
func replayRows(t *testing.T) int {
	t.Helper()
	v := os.Getenv("INVITEPIPE_E2E_REPLAY_ROWS")
	if v == "" {
		return 2000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("INVITEPIPE_E2E_REPLAY_ROWS=%q: use a whole number of at least 1", v)
	}
	return n
}

// TestReplayAfterFullRunSendsNothingNew: every row is sent, the consumer stops, `invitepipe
// replay --to earliest --execute` moves the group back to the start, and a new consumer
// reads every row again: the sandbox receives no new invitation and the consumer counts
// every row as a duplicate (none skipped through a stale progress record). It logs how
// fast the already-sent rows went through.
func TestReplayAfterFullRunSendsNothingNew(t *testing.T) {
	s := newStack(t, stackOptions{})
	n := replayRows(t)
	w := newWorkload(n, 0, 0, 3)
	ends := s.produce(w.records)
	a := s.start("a")
	s.waitCommitted(ends, 5*time.Minute)
	checkSentExactlyOnce(t, s, w, nil)
	a.stopGracefully(30 * time.Second)
	s.waitGroupEmpty(30 * time.Second)

	out := s.replay("--to", "earliest", "--execute")
	if !strings.Contains(out, "done: 3 partition(s) moved") {
		t.Fatalf("replay output lacks the move of 3 partitions:\n%s", out)
	}
	for p, o := range s.committed() {
		if o != 0 {
			t.Fatalf("partition %d committed at %d after the replay, want 0", p, o)
		}
	}

	accepted := s.accepted()
	b := s.start("b")
	start := time.Now() // b is ready: a member of the group, fetching
	s.waitCommitted(ends, 5*time.Minute)
	took := time.Since(start)
	if got := s.accepted(); got != accepted {
		t.Fatalf("the sandbox accepted %d new invitations during the replay, want none", got-accepted)
	}
	checkSentExactlyOnce(t, s, w, nil)
	if dup := b.metric(t, "invitepipe_messages_total", `outcome="`+metrics.OutcomeDuplicate+`"`); dup != float64(n) {
		t.Fatalf("the replaying consumer counted %v duplicates, want all %d rows", dup, n)
	}
	if sent := b.metric(t, "invitepipe_messages_total", `outcome="`+metrics.OutcomeSent+`"`); sent != 0 {
		t.Fatalf("the replaying consumer sent %v invitations, want 0", sent)
	}
	t.Logf("replay of %d already-sent rows: every one a duplicate, %s from the consumer's readiness to commits at the end (%.0f rows/s; consumer built with -race)",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds())
}

// replay runs `invitepipe replay` with the stack's settings and returns its output; the
// test fails when it exits non-zero.
func (s *stack) replay(args ...string) string {
	s.t.Helper()
	cmd := exec.Command(binary, append([]string{"replay"}, args...)...)
	cmd.Env = os.Environ()
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("invitepipe replay %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitGroupEmpty waits until the stack's group has no member.
func (s *stack) waitGroupEmpty(within time.Duration) {
	s.t.Helper()
	waitFor(s.t, within, "group "+s.group+" to be empty", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := s.client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{s.group}})
		return err == nil && len(resp.Groups) == 1 && resp.Groups[0].GroupState == "Empty"
	})
}
