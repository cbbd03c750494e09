package e2e

import (
	"encoding/json"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/dlq"
	"github.com/invitepipe/invitepipe/internal/metrics"
	"github.com/invitepipe/invitepipe/internal/sandbox"
)

// Chaos tests: the consumer's promises hold while processes die, stop and change
// membership under load, with Trustpilot failing and slow.
//
// Fault choice: 500, 520 and 429 are answers Trustpilot gave itself, so the client treats
// them as "not created" and retries. accept+timeout (the invitation IS recorded, no answer
// comes back) is the ambiguity the ledger exists for: the reference must end up in the
// DLQ as unknown_outcome and never be sent again. accept+500 is left out on purpose: a 500
// is classified as certainly not created (trustpilot.Ambiguous), so a retry after it
// records a second invitation by design; no consumer can tell, Trustpilot having no
// idempotency key.

// chaosFaults are Trustpilot's everyday failures: every call delayed by latencyMin to
// latencyMax, 5% answered 500, 5% answered 520, plus the extra rates.
func chaosFaults(latencyMin, latencyMax time.Duration, extra map[sandbox.FaultKind]float64) sandbox.Faults {
	rates := map[sandbox.FaultKind]float64{sandbox.Fault500: 0.05, sandbox.Fault520: 0.05}
	maps.Copy(rates, extra)
	return sandbox.Faults{LatencyMin: latencyMin, LatencyMax: latencyMax, Rates: rates}
}

// withRetryAfter makes the sandbox's 429s carry Retry-After: 1, so each one cools the
// destination down for a second instead of the limiter's exponential default (5s,
// doubling), which would stall a test for minutes at these fault rates.
func withRetryAfter(c *sandbox.Config) { c.RetryAfter = true }

// accepted is how many invitations the sandbox has accepted so far, duplicates included.
func (s *stack) accepted() int { return s.sandbox.Stats().AcceptedInvitations }

// waitAccepted waits until the sandbox has accepted at least n invitations.
func (s *stack) waitAccepted(n int, within time.Duration) {
	s.t.Helper()
	waitFor(s.t, within, strconv.Itoa(n)+" invitations accepted", func() bool { return s.accepted() >= n })
}

// handledCount is how many messages the consumer gave an outcome: sent, duplicate or
// dead-lettered.
func (c *consumer) handledCount(t *testing.T) float64 {
	t.Helper()
	n := 0.0
	for _, outcome := range []string{metrics.OutcomeSent, metrics.OutcomeDuplicate, metrics.OutcomeDLQ} {
		v, ok := sample(t, c, "invitepipe_messages_total", `outcome="`+outcome+`"`)
		if !ok {
			t.Fatalf("consumer %s has no invitepipe_messages_total{outcome=%q}", c.name, outcome)
		}
		n += v
	}
	return n
}

// stopGracefully sends SIGTERM and asserts a clean exit: status 0 within within, the
// drain finished before its deadline, and the process said it stopped cleanly.
func (c *consumer) stopGracefully(within time.Duration) time.Duration {
	c.t.Helper()
	err, took := c.term(within)
	if err != nil {
		c.t.Fatalf("consumer %s exited with %v after SIGTERM, want status 0", c.name, err)
	}
	log := c.log.String()
	if strings.Contains(log, "drain deadline passed") {
		c.t.Errorf("consumer %s abandoned messages at the drain deadline", c.name)
	}
	if !strings.Contains(log, "stopped cleanly") {
		c.t.Errorf("consumer %s did not log a clean stop", c.name)
	}
	return took
}

// disruption is a change of the group's membership (a kill, a SIGTERM, a join) with the
// offsets committed just before it. Commits only grow, so every message it made the
// group deliver again sits at or above them.
type disruption struct {
	what      string
	committed map[int]int64
}

// disrupt records the committed offsets before the membership change named what.
func (s *stack) disrupt(what string) disruption {
	return disruption{what: what, committed: s.committed()}
}

// TestCrashSafety kills the consumer with SIGKILL five times mid-stream, restarting one
// each time, while Trustpilot fails, throttles, answers slowly and sometimes records an
// invitation without answering. Nothing is sent twice, nothing is lost, every bad row is
// dead-lettered, and the group's commits reach the end.
func TestCrashSafety(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	// A killed consumer leaves at most its INVITEPIPE_CONCURRENCY messages reserved, each
	// of which may become an unknown outcome that is never sent, so whatever the kills
	// hit, at least reachable invitations are accepted; the kill moments are fractions of
	// it. With the default 256 a run could leave too few to place the last kills.
	const kills, concurrency = 5, 64
	s := newStack(t, stackOptions{sandbox: withRetryAfter,
		env: map[string]string{"INVITEPIPE_CONCURRENCY": strconv.Itoa(concurrency)}})
	// Every 429 cools the destination down for a second, so they stay rarer than the
	// 5xx, or they would set the pace of the whole test.
	f := chaosFaults(0, 30*time.Millisecond, map[sandbox.FaultKind]float64{sandbox.Fault429: 0.02, sandbox.FaultAcceptThenTimeout: 0.01})
	if err := s.sandbox.SetFaults(f); err != nil {
		t.Fatal(err)
	}
	w := newWorkload(2000, 20, 250, seed)
	ends := s.produce(w.records)

	reachable := len(w.want) - kills*concurrency
	c := s.start("c0")
	var disruptions []disruption
	for i := range kills {
		// A random moment in the i-th sixth of what is reachable: the kills spread over
		// the run and each finds messages in flight.
		at := reachable * (6*i + 2 + rng.IntN(5)) / 36
		s.waitAccepted(at, 60*time.Second)
		disruptions = append(disruptions, s.disrupt("kill "+c.name))
		c.kill()
		if got := s.accepted(); got >= len(w.want) {
			t.Fatalf("kill %d came after the whole stream was sent (%d accepted): it proves nothing", i+1, got)
		}
		t.Logf("kill %d at %d accepted invitations", i+1, s.accepted())
		c = s.start("c" + strconv.Itoa(i+1))
	}
	s.waitCommitted(ends, 90*time.Second)

	unknown := checkDeadLettersRedelivered(t, s, w, disruptions)
	sent := s.sent()
	recorded, resent := 0, 0
	for ref := range unknown {
		switch n := len(sent[ref]); {
		case n == 1:
			recorded++
		case n > 1:
			if resent++; resent <= 5 {
				t.Errorf("reference %s was dead-lettered as unknown_outcome, then sent again: %d invitations", ref, n)
			}
		}
	}
	if resent > 0 {
		t.Errorf("%d references were sent again after being dead-lettered as unknown_outcome", resent)
	}
	t.Logf("%d unknown outcomes dead-lettered: Trustpilot had recorded %d of them, %d never reached it; sandbox calls %v",
		len(unknown), recorded, len(unknown)-recorded, s.sandbox.Stats().Calls)
	checkSentExactlyOnce(t, s, w, unknown)
}

// TestUnknownOutcomeIsNotSentAgain isolates the ambiguity TestCrashSafety meets at
// random: Trustpilot records an invitation but no answer comes back, so the row is
// dead-lettered as unknown_outcome. The same row arriving again (an upstream retry, a
// replay, or a redelivery after a crash before the commit) must not send it a second
// time.
func TestUnknownOutcomeIsNotSentAgain(t *testing.T) {
	s := newStack(t, stackOptions{partitions: 1}) // waitCommitted needs every partition used
	if err := s.sandbox.SetFaults(sandbox.Faults{Rates: map[sandbox.FaultKind]float64{sandbox.FaultAcceptThenTimeout: 1}}); err != nil {
		t.Fatal(err)
	}
	w := newWorkload(1, 0, 0, 1)
	s.produce(w.records)
	s.start("a")
	if recs := s.deadLetters(1, 30*time.Second); recs[0].Class != dlq.UnknownOutcome {
		t.Fatalf("first delivery dead-lettered as %s (%s), want %s", recs[0].Class, recs[0].Reason, dlq.UnknownOutcome)
	}
	if err := s.sandbox.SetFaults(sandbox.Faults{}); err != nil {
		t.Fatal(err)
	}
	ends := s.produce(w.records)
	s.waitCommitted(ends, 30*time.Second)
	for ref := range w.want {
		if n := len(s.sent()[ref]); n != 1 {
			t.Errorf("reference %s: the sandbox holds %d invitations, want the 1 recorded before the answer was lost", ref, n)
		}
	}
}

// checkDeadLettersRedelivered asserts what the DLQ holds after disruptions: every bad
// record at least once, with its class and original bytes; a bad record more than once
// only as redeliveries of the same message, each explained by a disruption that found it
// uncommitted; and otherwise only unknown_outcome records of valid references, whose
// references it returns.
//
// Dead letters are at least once: the DLQ is written before the offset commits, so a
// crash in between writes it again, and so does a drain, which commits only up to the
// first message it abandoned (one waiting out a backoff when the drain began) and lets
// every message above it be delivered again.
func checkDeadLettersRedelivered(t *testing.T, s *stack, w workload, disruptions []disruption) map[string]bool {
	t.Helper()
	recs := s.deadLetters(int(s.dlqCount()), 60*time.Second)
	unknown := map[string]bool{}
	copies := map[string][]dlq.Record{}
	for _, r := range recs {
		key := string(r.Source.Key)
		if r.Class == dlq.UnknownOutcome {
			ref := orderID(t, r)
			if _, ok := w.want[ref]; !ok {
				t.Errorf("unknown_outcome dead letter %s names reference %q, which no valid row has", key, ref)
			}
			unknown[ref] = true
			continue
		}
		b, ok := w.bad[key]
		switch {
		case !ok:
			t.Errorf("unexpected dead letter %s (%s: %s)", key, r.Class, r.Reason)
		case r.Class != b.class:
			t.Errorf("dead letter %s has class %s, want %s (%s)", key, r.Class, b.class, r.Reason)
		case string(r.Source.Value) != b.value:
			t.Errorf("dead letter %s changed the value: %q, want %q", key, r.Source.Value, b.value)
		case r.Reason == "" || r.Source.Topic != s.topic:
			t.Errorf("dead letter %s lacks its reason or source: %+v", key, r)
		}
		copies[key] = append(copies[key], r)
	}
	redelivered := 0
	for key := range w.bad {
		got := copies[key]
		if len(got) == 0 {
			t.Errorf("bad record %s was never dead-lettered", key)
			continue
		}
		p, off := got[0].Source.Partition, got[0].Source.Offset
		var explained []string
		for _, d := range disruptions {
			if d.committed[p] <= off {
				explained = append(explained, d.what)
			}
		}
		for _, r := range got[1:] {
			if r.Source.Partition != p || r.Source.Offset != off {
				t.Errorf("bad record %s dead-lettered from %d/%d and %d/%d: two messages, not a redelivery", key, p, off, r.Source.Partition, r.Source.Offset)
			}
		}
		if len(got)-1 > len(explained) {
			t.Errorf("bad record %s (partition %d offset %d) dead-lettered %d times; only these disruptions found it uncommitted: %v", key, p, off, len(got), explained)
		}
		redelivered += len(got) - 1
	}
	t.Logf("DLQ: %d records, %d bad rows (%d extra copies from redelivery), %d unknown_outcome references", len(recs), len(w.bad), redelivered, len(unknown))
	return unknown
}

// orderID is the reference number of a dead-lettered row.
func orderID(t *testing.T, r dlq.Record) string {
	t.Helper()
	var m struct {
		Row struct {
			OrderID string `json:"order_id"`
		} `json:"row"`
	}
	if err := json.Unmarshal(r.Source.Value, &m); err != nil {
		t.Errorf("dead letter %s: %v", r.Source.Key, err)
	}
	return m.Row.OrderID
}

// TestGracefulShutdown stops the consumer with SIGTERM while messages are in flight on a
// slow Trustpilot: it drains, commits and exits 0 within the drain budget, and a new
// consumer finishes the stream without losing or resending anything. A graceful drain
// abandons no call, so no unknown outcome appears.
func TestGracefulShutdown(t *testing.T) {
	s := newStack(t, stackOptions{})
	// Slow calls keep messages in flight; 5xx keep some in backoff at SIGTERM too.
	if err := s.sandbox.SetFaults(chaosFaults(20*time.Millisecond, 80*time.Millisecond, nil)); err != nil {
		t.Fatal(err)
	}
	w := newWorkload(1500, 20, 250, 3)
	ends := s.produce(w.records)

	a := s.start("a")
	s.waitAccepted(len(w.want)/3, 60*time.Second)
	stop := s.disrupt("SIGTERM a")
	atTerm := s.accepted()
	// INVITEPIPE_DRAIN_TIMEOUT is 3s; the rest is leaving the group and a race-built
	// binary's exit.
	took := a.stopGracefully(15 * time.Second)
	atExit := s.accepted()
	t.Logf("SIGTERM at %d accepted invitations; exited 0 after %s at %d of %d", atTerm, took.Round(time.Millisecond), atExit, len(w.want))
	if atExit == atTerm {
		t.Fatalf("no call completed during the drain: nothing was in flight at SIGTERM, the test proves nothing")
	}
	if atExit >= len(w.want) {
		t.Fatalf("the stream was finished before SIGTERM took effect (%d accepted): the test proves nothing", atExit)
	}

	s.start("b")
	s.waitCommitted(ends, 90*time.Second)
	unknown := checkDeadLettersRedelivered(t, s, w, []disruption{stop})
	if len(unknown) > 0 {
		t.Errorf("%d references dead-lettered as unknown_outcome: the drain abandoned calls under way", len(unknown))
	}
	checkSentExactlyOnce(t, s, w, nil)
}

// TestRebalance runs two, then three consumers in one group over six partitions; one
// leaves with SIGTERM and another joins mid-stream. Every member does work, every
// reference is sent exactly once, every bad row is dead-lettered, no call is abandoned,
// and the commits reach the end.
func TestRebalance(t *testing.T) {
	s := newStack(t, stackOptions{partitions: 6,
		// Few calls at once per partition, so the stream lasts through every
		// membership change.
		env: map[string]string{"INVITEPIPE_PARTITION_CONCURRENCY": "4"}})
	if err := s.sandbox.SetFaults(chaosFaults(20*time.Millisecond, 80*time.Millisecond, nil)); err != nil {
		t.Fatal(err)
	}
	w := newWorkload(3000, 20, 250, 4)
	ends := s.produce(w.records)
	total := len(w.want)

	start := time.Now()
	step := func(what string) {
		t.Logf("%4.1fs: %s (%d of %d accepted)", time.Since(start).Seconds(), what, s.accepted(), total)
	}
	a, b := s.start("a"), s.start("b")
	s.waitAccepted(total/5, 60*time.Second)
	step("c joins")
	disruptions := []disruption{s.disrupt("c joins")}
	c := s.start("c") // three members
	s.waitAccepted(total*2/5, 60*time.Second)
	step("a leaves")
	aHandled := a.handledCount(t)
	disruptions = append(disruptions, s.disrupt("a leaves"))
	a.stopGracefully(15 * time.Second) // two members
	s.waitAccepted(total*3/5, 60*time.Second)
	step("d joins")
	disruptions = append(disruptions, s.disrupt("d joins"))
	d := s.start("d") // three members again
	if got := s.accepted(); got >= total {
		t.Fatalf("the stream was finished before the last member joined (%d accepted): the test proves nothing", got)
	}
	step("d joined")
	s.waitCommitted(ends, 90*time.Second)
	step("commits reached the end")

	handled := map[string]float64{"a": aHandled, "b": b.handledCount(t), "c": c.handledCount(t), "d": d.handledCount(t)}
	t.Logf("messages handled per member: %v", handled)
	for name, n := range handled {
		if n <= 0 {
			t.Errorf("consumer %s handled %v messages: it never got a share of the partitions", name, n)
		}
	}
	unknown := checkDeadLettersRedelivered(t, s, w, disruptions)
	if len(unknown) > 0 {
		t.Errorf("%d references dead-lettered as unknown_outcome: a rebalance abandoned calls under way", len(unknown))
	}
	checkSentExactlyOnce(t, s, w, nil)
}
