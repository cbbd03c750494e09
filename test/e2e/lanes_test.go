package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/dlq"
	"github.com/invitepipe/invitepipe/internal/sandbox"
)

// The tests of this file check the consumer's lanes: every destination is a lane, and a
// destination that cannot take calls (paused, cooling down after 429s, out of budget)
// holds back only its own messages, deferring them without a slot, while the other
// destinations' messages flow at full speed; the deferred messages are never committed
// past, survive crashes and rebalances, are sent exactly once when their destination
// recovers, and are dead-lettered when they wait too long.

// budgetYAML is a rate_limit whose only binding window is calls per per.
func budgetYAML(calls int, per time.Duration) string {
	return fmt.Sprintf("{ per_5min: 1000000, per_hour: 10000000, windows: [{ calls: %d, per: %s }] }", calls, per)
}

// forced is the sandbox fault that answers every call of destination d with status
// (and errorCode).
func forced(d *dest, status, errorCode int) sandbox.Faults {
	return sandbox.Faults{Forced: map[string]sandbox.ForcedStatus{d.businessUnit: {Status: status, ErrorCode: errorCode}}}
}

// setFaults replaces the sandbox's faults.
func (s *stack) setFaults(f sandbox.Faults) {
	s.t.Helper()
	if err := s.sandbox.SetFaults(f); err != nil {
		s.t.Fatal(err)
	}
}

// waitSent waits until the sandbox holds at least n invitations for destination label,
// and returns how long that took from since.
func (s *stack) waitSent(label string, n int, since time.Time, within time.Duration) time.Duration {
	s.t.Helper()
	waitFor(s.t, within, fmt.Sprintf("%d invitations for destination %s", n, label), func() bool { return s.sentCount(label) >= n })
	return time.Since(since)
}

// callsAnswered is how many invitation calls the sandbox answered with status, all
// business units together (the sandbox counts per path class only).
func (s *stack) callsAnswered(status int) int {
	return s.sandbox.Stats().Calls[sandbox.ClassInvitations][status]
}

// isolationCase is one way destination B can be in trouble.
type isolationCase struct {
	name       string
	partitions int
	bRows      int
	bRate      string            // B's rate_limit; empty: none
	env        map[string]string // extra consumer variables
	// trouble is the sandbox fault that puts B in trouble (nil: none, B's own budget
	// holds it back); status is the answer it forces.
	trouble func(b *dest) sandbox.Faults
	status  int
	// reason is B's invitepipe_destination_waiting reason while it is in trouble.
	reason string
}

// TestIsolation runs destination A (1,500 rows) interleaved with destination B, on
// another API key, while B cannot take calls, and checks that A's rows flow at about the
// speed they have alone, that B's rows wait (neither sent nor dead-lettered, never
// committed past) and are all sent exactly once when B recovers, and that the group's
// commits reach the end.
func TestIsolation(t *testing.T) {
	const aRows = 1500
	cases := []isolationCase{
		{name: "paused-404", partitions: 3, bRows: 900, status: http.StatusNotFound, reason: "paused",
			trouble: func(b *dest) sandbox.Faults { return forced(b, http.StatusNotFound, 0) }},
		{name: "paused-403-1014", partitions: 4, bRows: 600, status: http.StatusForbidden, reason: "paused",
			trouble: func(b *dest) sandbox.Faults { return forced(b, http.StatusForbidden, 1014) }},
		{name: "cooling-429", partitions: 5, bRows: 1200, status: http.StatusTooManyRequests, reason: "cooling",
			trouble: func(b *dest) sandbox.Faults { return forced(b, http.StatusTooManyRequests, 0) }},
		// 10 calls per 10s: the first 10 of B's 40 rows go at once, the other 30 wait
		// three windows while A's 1,500 flow.
		{name: "budget-10-per-10s", partitions: 6, bRows: 40, bRate: budgetYAML(10, 10*time.Second), reason: "budget"},
		// At most 50 deferred bodies in memory, ~300 B rows per partition: nearly all of
		// B's rows are dropped from memory and read again from Kafka on recovery.
		{name: "defer-buffer-50", partitions: 3, bRows: 900, env: map[string]string{"INVITEPIPE_DEFER_BUFFER": "50"},
			status: http.StatusNotFound, reason: "paused",
			trouble: func(b *dest) sandbox.Faults { return forced(b, http.StatusNotFound, 0) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runIsolation(t, tc, aRows) })
	}
}

func runIsolation(t *testing.T, tc isolationCase, aRows int) {
	s := newStack(t, stackOptions{partitions: tc.partitions, env: tc.env,
		destinations: []destSpec{{label: "a"}, {label: "b", rateLimit: tc.bRate}}})
	a, b := s.dest("a"), s.dest("b")
	c := s.start("c")

	// Warm up (the group has its partitions and the consumer its tokens), then A alone.
	wantA, tookAlone := s.warmThenTime("a", aRows)

	// A with B in trouble.
	if tc.trouble != nil {
		s.setFaults(tc.trouble(b))
	}
	together, want := laneRows("a", 10000, aRows, time.Now())
	maps.Copy(wantA, want)
	bRecs, wantB := laneRows("b", 0, tc.bRows, time.Now())
	start := time.Now()
	ends := s.produce(interleave(together, bRecs))
	deadline := max(20*tookAlone, 30*time.Second)
	tookTogether := s.waitSent("a", len(wantA), start, deadline)
	bSent := s.sentCount("b")
	t.Logf("A's %d rows: %s alone, %s interleaved with %d rows of B in trouble (%s): ratio %.2f; B sent meanwhile: %d",
		aRows, tookAlone.Round(time.Millisecond), tookTogether.Round(time.Millisecond), tc.bRows, tc.name,
		tookTogether.Seconds()/tookAlone.Seconds(), bSent)

	held := tc.trouble != nil
	var deferred float64
	waitFor(t, 20*time.Second, "B's messages deferred and B waiting for reason "+tc.reason, func() bool {
		deferred = c.deferred(t, b)
		min := 1.0
		if held {
			// Every B message is fetched by now; the only ones not deferred are
			// probes under way, at most one per partition.
			min = float64(tc.bRows - tc.partitions)
		}
		return deferred >= min && c.waiting(t, b, tc.reason) == 1
	})
	oldest := c.metric(t, "invitepipe_deferred_oldest_seconds", `destination="`+b.name+`"`)
	lag := c.metric(t, "invitepipe_actionable_lag", "")
	t.Logf("while B waits: invitepipe_deferred_messages{B} = %v, deferred_oldest_seconds{B} = %.1f, waiting{B,%s} = 1, actionable_lag = %v, deferred{A} = %v",
		deferred, oldest, tc.reason, lag, c.deferred(t, a))
	if lag > float64(tc.partitions) {
		t.Errorf("invitepipe_actionable_lag = %v while only B's deferred messages are left: deferred messages must not count", lag)
	}
	if n := s.dlqCount(); n != 0 {
		t.Errorf("%d records dead-lettered while B waits; its rows must be held", n)
	}
	if held {
		if n := s.sentCount("b"); n != 0 {
			t.Errorf("%d of B's rows sent while every call of B is answered %d", n, tc.status)
		}
		first := firstOffsets(s.scan(ends), "b/")
		s.waitCommitsAt(first, "while B waits")
		// B is probed, not hammered: beyond the calls under way when it closed (at most
		// maxInflight), each partition tries one message when its wait ends, at most once
		// per probe interval.
		elapsed := time.Since(start)
		calls := s.callsAnswered(tc.status)
		most := maxInflight + tc.partitions*(int(elapsed/s.envDuration("INVITEPIPE_DESTINATION_PROBE_INTERVAL"))+1)
		t.Logf("commits while B waits: %v; first B message per partition: %v; calls answered %d in %s: %d (at most %d)",
			s.committed(), first, tc.status, elapsed.Round(time.Millisecond), calls, most)
		if calls > most {
			t.Errorf("B was called %d times in %s while every call fails; want at most %d", calls, elapsed.Round(time.Millisecond), most)
		}
	} else {
		checkBudget(t, s, "b", 10, 10*time.Second)
	}

	// B recovers.
	recovered := time.Now()
	if held {
		s.setFaults(sandbox.Faults{})
	}
	tookB := s.waitSent("b", tc.bRows, recovered, 90*time.Second)
	s.waitCommitted(ends, 60*time.Second)
	t.Logf("B's %d rows all sent %s after it recovered", tc.bRows, tookB.Round(time.Millisecond))
	checkLaneSentOnce(t, s, "a", wantA)
	checkLaneSentOnce(t, s, "b", wantB)
	if !held {
		checkBudget(t, s, "b", 10, 10*time.Second)
	}
	if st := s.sandbox.Stats(); st.DuplicateReferences != 0 {
		t.Errorf("the sandbox saw %d references more than once", st.DuplicateReferences)
	}
	if n := s.dlqCount(); n != 0 {
		t.Errorf("DLQ holds %d records, want none", n)
	}
	var deferredB, waitingB float64
	defer func() {
		if t.Failed() {
			t.Logf("B's last figures: invitepipe_deferred_messages %v, invitepipe_destination_waiting{%s} %v", deferredB, tc.reason, waitingB)
		}
	}()
	waitFor(t, 10*time.Second, "B no longer deferred nor waiting", func() bool {
		deferredB, waitingB = c.deferred(t, b), c.waiting(t, b, tc.reason)
		return deferredB == 0 && waitingB == 0
	})
}

// checkBudget asserts that destination label's accepted invitations never exceed calls
// in any window of length per.
func checkBudget(t *testing.T, s *stack, label string, calls int, per time.Duration) {
	t.Helper()
	var at []time.Time
	for _, inv := range s.sandbox.Invitations(s.dest(label).businessUnit, "") {
		at = append(at, inv.CreatedAt)
	}
	slices.SortFunc(at, func(x, y time.Time) int { return x.Compare(y) })
	for i := 0; i+calls < len(at); i++ {
		if span := at[i+calls].Sub(at[i]); span < per {
			t.Errorf("destination %s: %d invitations within %s (from %s), budget %d per %s", label, calls+1, span, at[i].Format(time.StampMilli), calls, per)
			return
		}
	}
}

// TestCrashWithDeferredRows defers 5,000 rows of a paused destination B while
// destination A's rows flow, kills the consumer with SIGKILL, restarts it (B still
// paused), then lets B recover: every row of both is sent exactly once, nothing is
// dead-lettered, and the commits reach the end.
func TestCrashWithDeferredRows(t *testing.T) {
	const partitions, aRows, bRows = 4, 1500, 5000
	s := newStack(t, stackOptions{partitions: partitions, destinations: []destSpec{{label: "a"}, {label: "b"}}})
	b := s.dest("b")
	s.setFaults(forced(b, http.StatusNotFound, 0))
	// A's first rows come before any of B's, so the commits have somewhere to go.
	lead, wantA := laneRows("a", 0, 300, time.Now())
	aRecs, want := laneRows("a", 1000, aRows, time.Now())
	maps.Copy(wantA, want)
	bRecs, wantB := laneRows("b", 0, bRows, time.Now())
	start := time.Now()
	ends := s.produce(slices.Concat(lead, interleave(aRecs, bRecs)))
	first := firstOffsets(s.scan(ends), "b/")

	// c0 probes B once an hour, so that no probe is under way when it is killed: a call's
	// reservation left by a killed process is an unknown outcome by design (README), and
	// the one probe a kill could catch would be dead-lettered, which this test is not about.
	// With no probe, every B row waits, none holds a reservation. c1 probes every 500ms.
	interval := s.env["INVITEPIPE_DESTINATION_PROBE_INTERVAL"]
	s.env["INVITEPIPE_DESTINATION_PROBE_INTERVAL"] = "1h"
	c0 := s.start("c0")
	s.env["INVITEPIPE_DESTINATION_PROBE_INTERVAL"] = interval
	tookA := s.waitSent("a", len(wantA), start, 60*time.Second)
	waitFor(t, 30*time.Second, "every B row deferred by c0", func() bool { return c0.deferred(t, b) == bRows })
	t.Logf("c0: A's %d rows sent in %s, %v of B's %d rows deferred after %s", len(wantA), tookA.Round(time.Millisecond),
		c0.deferred(t, b), bRows, time.Since(start).Round(time.Millisecond))
	if n := s.sentCount("b"); n != 0 {
		t.Fatalf("%d of B's rows sent while B answers 404", n)
	}
	s.waitCommitsAt(first, "before the kill")
	atKill := s.committed()
	c0.kill()

	restart := time.Now()
	c1 := s.start("c1")
	waitFor(t, 60*time.Second, "every B row deferred again by c1", func() bool { return c1.deferred(t, b) >= bRows-partitions })
	t.Logf("c1: %v of B's rows deferred again %s after the restart (commits at the kill: %v, first B per partition: %v)",
		c1.deferred(t, b), time.Since(restart).Round(time.Millisecond), atKill, first)
	s.checkCommitsHeldBelow(first, "after the restart")
	if n := s.sentCount("b"); n != 0 {
		t.Fatalf("%d of B's rows sent while B answers 404", n)
	}
	checkLaneSentOnce(t, s, "a", wantA) // redelivered A rows are duplicates, not sent again

	recovered := time.Now()
	s.setFaults(sandbox.Faults{})
	tookB := s.waitSent("b", bRows, recovered, 90*time.Second)
	s.waitCommitted(ends, 60*time.Second)
	t.Logf("B's %d rows sent %s after it recovered", bRows, tookB.Round(time.Millisecond))
	checkLaneSentOnce(t, s, "a", wantA)
	checkLaneSentOnce(t, s, "b", wantB)
	if n := s.dlqCount(); n != 0 {
		t.Errorf("DLQ holds %d records, want none", n)
	}
	if st := s.sandbox.Stats(); st.DuplicateReferences != 0 {
		t.Errorf("the sandbox saw %d references more than once", st.DuplicateReferences)
	}
}

// sent2xx is how many of destination d's calls c saw answered 2xx.
func (c *consumer) sent2xx(t *testing.T, d *dest) float64 {
	t.Helper()
	return c.metric(t, "invitepipe_trustpilot_requests_total", `code="2xx",destination="`+d.name+`"`)
}

// TestRebalanceWithDeferredRows defers the rows of a paused destination B on one
// consumer, lets a second one join (the deferred rows are split between them, read
// again by their new owners), lets B recover under a budget of 100 calls a second, and
// stops the second consumer while B's rows are being sent and waiting for the budget:
// nothing is sent twice, nothing is dead-lettered, everything is sent once, and the
// commits reach the end.
func TestRebalanceWithDeferredRows(t *testing.T) {
	const partitions, aRows, bRows = 6, 1200, 1500
	s := newStack(t, stackOptions{partitions: partitions,
		destinations: []destSpec{{label: "a"}, {label: "b", rateLimit: budgetYAML(100, time.Second)}}})
	b := s.dest("b")
	s.setFaults(forced(b, http.StatusNotFound, 0))
	lead, wantA := laneRows("a", 0, 300, time.Now())
	aRecs, want := laneRows("a", 1000, aRows, time.Now())
	maps.Copy(wantA, want)
	bRecs, wantB := laneRows("b", 0, bRows, time.Now())
	ends := s.produce(slices.Concat(lead, interleave(aRecs, bRecs)))
	first := firstOffsets(s.scan(ends), "b/")

	start := time.Now()
	step := func(what string) {
		t.Logf("%5.1fs: %s (A sent %d, B sent %d, commits %v)", time.Since(start).Seconds(), what, s.sentCount("a"), s.sentCount("b"), s.committed())
	}
	c1 := s.start("c1")
	s.waitSent("a", len(wantA), start, 60*time.Second)
	waitFor(t, 30*time.Second, "every B row deferred by c1", func() bool { return c1.deferred(t, b) >= bRows-partitions })
	step(fmt.Sprintf("c1 deferred %v B rows; c2 joins", c1.deferred(t, b)))

	c2 := s.start("c2")
	var d1, d2 float64
	waitFor(t, 60*time.Second, "B's deferred rows split between c1 and c2", func() bool {
		d1, d2 = c1.deferred(t, b), c2.deferred(t, b)
		return d1 > 0 && d2 > 0 && d1+d2 >= bRows-partitions && d1+d2 <= bRows
	})
	step(fmt.Sprintf("deferred B rows: c1 %v, c2 %v", d1, d2))
	if n := s.sentCount("b"); n != 0 {
		t.Fatalf("%d of B's rows sent while B answers 404", n)
	}
	s.waitCommitsAt(first, "after c2 joined")
	checkLaneSentOnce(t, s, "a", wantA)

	s.setFaults(sandbox.Faults{})
	step("B recovers")
	s.waitSent("b", bRows/4, start, 60*time.Second)
	sentByC2 := c2.sent2xx(t, b)
	if sentByC2 == 0 {
		t.Errorf("c2 sent none of B's rows before leaving: the test did not share the recovery")
	}
	if got := s.sentCount("b"); got >= bRows*3/4 {
		t.Fatalf("B had %d of %d rows sent when c2 left: too late to prove anything", got, bRows)
	}
	step(fmt.Sprintf("c2 leaves, having sent %v of B's rows", sentByC2))
	took := c2.stopGracefully(15 * time.Second)
	step(fmt.Sprintf("c2 left in %s", took.Round(time.Millisecond)))

	s.waitSent("b", bRows, start, 90*time.Second)
	s.waitCommitted(ends, 60*time.Second)
	step("commits reached the end")
	sentByC1 := c1.sent2xx(t, b)
	t.Logf("B rows per replica: deferred at the split c1 %v, c2 %v; sent by c1 %v, by c2 %v before SIGTERM and %v in all",
		d1, d2, sentByC1, sentByC2, float64(bRows)-sentByC1)
	if sentByC1 == 0 {
		t.Errorf("c1 sent none of B's rows")
	}
	checkLaneSentOnce(t, s, "a", wantA)
	checkLaneSentOnce(t, s, "b", wantB)
	checkBudget(t, s, "b", 100, time.Second)
	if n := s.dlqCount(); n != 0 {
		t.Errorf("DLQ holds %d records, want none (a graceful leave abandons no call)", n)
	}
	if st := s.sandbox.Stats(); st.DuplicateReferences != 0 {
		t.Errorf("the sandbox saw %d references more than once", st.DuplicateReferences)
	}
}

// checkDeadLettered asserts that the DLQ holds exactly the records of want (by key:
// value), each once, all of class class with their original bytes, and nothing else.
func checkDeadLettered(t *testing.T, s *stack, want []record, class dlq.Class) {
	t.Helper()
	recs := s.deadLetters(len(want), 60*time.Second)
	values := map[string]string{}
	for _, r := range want {
		values[r.key] = r.value
	}
	seen := map[string]bool{}
	bad := 0
	for _, r := range recs {
		key := string(r.Source.Key)
		v, ok := values[key]
		switch {
		case !ok:
			t.Errorf("unexpected dead letter %s (%s: %s)", key, r.Class, r.Reason)
		case seen[key]:
			t.Errorf("dead letter %s written twice", key)
		case r.Class != class:
			t.Errorf("dead letter %s has class %s, want %s (%s)", key, r.Class, class, r.Reason)
		case string(r.Source.Value) != v:
			t.Errorf("dead letter %s changed the value: %q, want %q", key, r.Source.Value, v)
		case r.Reason == "" || r.Source.Topic != s.topic:
			t.Errorf("dead letter %s lacks its reason or source: %+v", key, r)
		default:
			seen[key] = true
			continue
		}
		if bad++; bad > 10 {
			t.FailNow()
		}
	}
	if len(recs) > 0 {
		t.Logf("%d dead letters of class %s; e.g. %q", len(recs), class, recs[0].Reason)
	}
}

// TestAges checks the two ways a row grows too old: deferred longer than
// INVITEPIPE_DEFER_MAX_AGE behind a destination that never recovers (deferred_expired),
// and older than its activation's max_age (stale).
func TestAges(t *testing.T) {
	t.Run("deferred_expired", func(t *testing.T) {
		const maxAge = 5 * time.Second
		s := newStack(t, stackOptions{partitions: 3, env: map[string]string{"INVITEPIPE_DEFER_MAX_AGE": maxAge.String()},
			destinations: []destSpec{{label: "a"}, {label: "b"}}})
		b := s.dest("b")
		s.setFaults(forced(b, http.StatusNotFound, 0)) // forever
		c := s.start("c")
		aRecs, wantA := laneRows("a", 0, 600, time.Now())
		bRecs, _ := laneRows("b", 0, 300, time.Now())
		start := time.Now()
		ends := s.produce(interleave(aRecs, bRecs))
		var firstDL time.Duration
		waitFor(t, 30*time.Second, "a first dead letter", func() bool {
			firstDL = time.Since(start)
			return s.dlqCount() > 0
		})
		if firstDL < maxAge {
			t.Errorf("the first dead letter came %s after the rows were produced, before INVITEPIPE_DEFER_MAX_AGE (%s)", firstDL, maxAge)
		}
		checkDeadLettered(t, s, bRecs, dlq.DeferredExpired)
		s.waitCommitted(ends, 30*time.Second)
		t.Logf("first dead letter %s after producing, all %d dead-lettered and committed %s after", firstDL.Round(time.Millisecond),
			len(bRecs), time.Since(start).Round(time.Millisecond))
		if n := s.dlqCount(); n != int64(len(bRecs)) {
			t.Errorf("DLQ holds %d records, want %d", n, len(bRecs))
		}
		if n := s.sentCount("b"); n != 0 {
			t.Errorf("%d of B's rows sent while B answers 404", n)
		}
		checkLaneSentOnce(t, s, "a", wantA)
		waitFor(t, 10*time.Second, "B no longer deferred", func() bool { return c.deferred(t, b) == 0 })
	})

	t.Run("stale", func(t *testing.T) {
		s := newStack(t, stackOptions{partitions: 3,
			destinations: []destSpec{{label: "a"}, {label: "m", maxAge: "1m"}}})
		c := s.start("c")
		old := time.Now().Add(-2 * time.Hour)
		// Stale by emitted_at; stale by Kafka timestamp (no emitted_at); fresh either way;
		// and old rows of an activation without max_age, which never age.
		staleEmitted, _ := laneRows("m", 0, 200, old)
		staleKafka, _ := laneRows("m", 1000, 100, time.Time{})
		for i := range staleKafka {
			staleKafka[i].at = old
		}
		fresh, wantM := laneRows("m", 2000, 100, time.Now())
		freshKafka, want := laneRows("m", 3000, 100, time.Time{})
		maps.Copy(wantM, want)
		oldA, wantA := laneRows("a", 0, 300, old)
		stale := slices.Concat(staleEmitted, staleKafka)
		ends := s.produce(interleave(staleEmitted, staleKafka, fresh, freshKafka, oldA))
		s.waitCommitted(ends, 60*time.Second)
		checkDeadLettered(t, s, stale, dlq.Stale)
		if n := s.dlqCount(); n != int64(len(stale)) {
			t.Errorf("DLQ holds %d records, want %d", n, len(stale))
		}
		checkLaneSentOnce(t, s, "m", wantM)
		checkLaneSentOnce(t, s, "a", wantA)
		n, _ := sample(t, c, "invitepipe_messages_total", `outcome="dlq"`)
		t.Logf("%d stale rows dead-lettered (%d by emitted_at, %d by Kafka timestamp), %d fresh rows of the same activation and %d old rows without max_age sent; messages_total{dlq} = %v",
			len(stale), len(staleEmitted), len(staleKafka), len(wantM), len(wantA), n)
	})
}

// TestSharedKeyBudget runs two destinations on one API key, which the sandbox limits to
// 30 calls in any 5 seconds, each declaring that budget: together they stay within it
// (no 429), use most of it, and, both having rows waiting throughout, each gets a fair
// share of every window: at least a third of it, where first come, first served gave
// splits as uneven as 27+3 and 1+29.
func TestSharedKeyBudget(t *testing.T) {
	limit := sandbox.RateWindow{Limit: 30, Window: 5 * time.Second}
	rate := budgetYAML(limit.Limit, limit.Window)
	s := newStack(t, stackOptions{partitions: 3,
		sandbox:      func(c *sandbox.Config) { c.RateLimits = []sandbox.RateWindow{limit} },
		destinations: []destSpec{{label: "x", key: "shared", rateLimit: rate}, {label: "y", key: "shared", rateLimit: rate}}})
	x, y := s.dest("x"), s.dest("y")
	if x.apiKey != y.apiKey || x.keyEnv == y.keyEnv {
		t.Fatalf("the harness did not share one API key value under two variables: %+v %+v", x, y)
	}
	s.start("c")
	xRecs, wantX := laneRows("x", 0, 75, time.Now())
	yRecs, wantY := laneRows("y", 0, 75, time.Now())
	ends := s.produce(interleave(xRecs, yRecs))
	s.waitCommitted(ends, 90*time.Second)
	checkLaneSentOnce(t, s, "x", wantX)
	checkLaneSentOnce(t, s, "y", wantY)

	st := s.sandbox.Stats()
	if n := st.Calls[sandbox.ClassInvitations][http.StatusTooManyRequests]; n != 0 {
		t.Errorf("the sandbox answered 429 %d times; the shared key budget must keep every call within its limit", n)
	}
	peaks := st.RateWindows[x.apiKey]
	if len(peaks) != 1 || peaks[0].MaxCalls > limit.Limit {
		t.Errorf("busiest windows of the shared key = %+v, want one of at most %d calls", peaks, limit.Limit)
	}

	// Per window from the first acceptance: both destinations served fairly in each, and
	// the key's budget used. The windows counted here need not line up with the sliding
	// windows of the limiter, so a share may come out a little below half.
	type acc struct {
		at    time.Time
		label string
	}
	var all []acc
	for _, l := range []string{"x", "y"} {
		for _, inv := range s.sandbox.Invitations(s.dest(l).businessUnit, "") {
			all = append(all, acc{inv.CreatedAt, l})
		}
	}
	slices.SortFunc(all, func(p, q acc) int { return p.at.Compare(q.at) })
	first := all[0].at
	windows := map[int]map[string]int{}
	for _, a := range all {
		w := int(a.at.Sub(first) / limit.Window)
		if windows[w] == nil {
			windows[w] = map[string]int{}
		}
		windows[w][a.label]++
	}
	full := len(windows) - 1 // the last window is partial
	var per []string
	used := 0
	for w := range len(windows) {
		per = append(per, fmt.Sprintf("%d+%d", windows[w]["x"], windows[w]["y"]))
		if w < full {
			used += windows[w]["x"] + windows[w]["y"]
			if least := limit.Limit / 3; windows[w]["x"] < least || windows[w]["y"] < least {
				t.Errorf("window %d was not shared fairly: x %d, y %d; want at least %d each", w, windows[w]["x"], windows[w]["y"], least)
			}
		}
	}
	if full < 3 {
		t.Fatalf("the run spans %d whole windows: too few to measure", full)
	}
	ratio := float64(used) / float64(full*limit.Limit)
	t.Logf("calls per %s window (x+y): %s; %.1f%% of the key's budget used over %d whole windows; peak %+v",
		limit.Window, strings.Join(per, " "), 100*ratio, full, peaks)
	if ratio < 0.8 {
		t.Errorf("the destinations used %.1f%% of their shared key's budget, want at least 80%%", 100*ratio)
	}
}

// TestRandom429s has the sandbox answer 2% of calls 429 without Retry-After, at a
// budget of 100 calls per second (the rate a production key runs at, scaled up): the key
// cools down briefly after each, but every row is sent exactly once, no row's retry
// budget is spent on them (INVITEPIPE_RETRY_MAX_ATTEMPTS=1 would dead-letter it), and
// invitations keep being accepted (no gap of 30s). The throughput ratio is logged
// (BENCHMARKS.md).
func TestRandom429s(t *testing.T) {
	const rows = 600
	s := newStack(t, stackOptions{partitions: 3, env: map[string]string{"INVITEPIPE_RETRY_MAX_ATTEMPTS": "1"},
		destinations: []destSpec{{label: "a", rateLimit: "{ per_5min: 100000, per_hour: 1000000, windows: [{ calls: 100, per: 1s }] }"}}})
	s.start("c")
	want, tookClean := s.warmThenTime("a", rows)

	s.setFaults(sandbox.Faults{Rates: map[sandbox.FaultKind]float64{sandbox.Fault429: 0.02}})
	faulty, w := laneRows("a", 10000, rows, time.Now())
	maps.Copy(want, w)
	start := time.Now()
	ends := s.produce(faulty)
	tookFaulty := s.waitSent("a", len(want), start, 120*time.Second)
	s.waitCommitted(ends, 30*time.Second)
	checkLaneSentOnce(t, s, "a", want)
	if n := s.dlqCount(); n != 0 {
		t.Errorf("DLQ holds %d records: 429s spent the rows' retry budget", n)
	}

	var at []time.Time
	for _, inv := range s.sandbox.Invitations(s.dest("a").businessUnit, "") {
		if inv.CreatedAt.After(start) {
			at = append(at, inv.CreatedAt)
		}
	}
	slices.SortFunc(at, func(x, y time.Time) int { return x.Compare(y) })
	var gap time.Duration
	for i := 1; i < len(at); i++ {
		gap = max(gap, at[i].Sub(at[i-1]))
	}
	n429 := s.callsAnswered(http.StatusTooManyRequests)
	t.Logf("%d rows: %s without faults, %s with 2%% 429s (%d answered 429): %.1fx slower; longest gap between accepted invitations %s",
		rows, tookClean.Round(time.Millisecond), tookFaulty.Round(time.Millisecond), n429, tookFaulty.Seconds()/tookClean.Seconds(), gap.Round(time.Millisecond))
	if n429 == 0 {
		t.Errorf("no call was answered 429: the test proves nothing")
	}
	if gap > 30*time.Second {
		t.Errorf("no invitation was accepted for %s while rows were waiting", gap)
	}
}

// warmThenTime sends 30 rows of destination label to warm the consumer up (partitions
// assigned, token minted), then n more, and returns every row sent (reference -> body)
// and how long the n took.
func (s *stack) warmThenTime(label string, n int) (map[string]string, time.Duration) {
	s.t.Helper()
	warm, want := laneRows(label, 0, 30, time.Now())
	s.produce(warm)
	s.waitSent(label, len(warm), time.Now(), 60*time.Second)
	timed, w := laneRows(label, 1000, n, time.Now())
	maps.Copy(want, w)
	start := time.Now()
	s.produce(timed)
	return want, s.waitSent(label, len(want), start, 60*time.Second)
}
