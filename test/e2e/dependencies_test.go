package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/sandbox"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// The tests of this file take the consumer's dependencies away and give them back:
// Redis stops and starts again, the destination refuses every call (403) and then
// works, and three replicas share one destination's rate limit.

// maxInflight bounds the messages one consumer handles at once: INVITEPIPE_CONCURRENCY's
// default (256; a partition may use all of it, INVITEPIPE_PARTITION_CONCURRENCY's default).
const maxInflight = 256

// TestRedisRestart stops Redis while rows flow and starts it again a few seconds later:
// no invitation is sent while the ledger is unreachable (only the calls already past it
// may still land), /readyz says why, and afterwards every row has its outcome exactly
// once.
func TestRedisRestart(t *testing.T) {
	r := testenv.StartRedis(t)
	s := newStack(t, stackOptions{
		// At most 100 calls a second, each taking up to a second: the stream is still
		// flowing when Redis stops, with messages waiting for the budget (reserved in
		// the ledger) and calls under way.
		rateLimit: "{ per_5min: 100000, per_hour: 1000000, windows: [{ calls: 100, per: 1s }] }",
		sandbox: func(c *sandbox.Config) {
			c.Faults.LatencyMin, c.Faults.LatencyMax = 20*time.Millisecond, time.Second
		},
		env: map[string]string{
			"INVITEPIPE_REDIS_URL": r.URL,
			// Longer than the outage, as in production (2m): a reservation whose
			// invitation was sent just before Redis stopped is confirmed after it
			// starts, not taken for an unknown outcome.
			"INVITEPIPE_LEDGER_LEASE": "60s",
		},
	})
	w := newWorkload(1200, 25, 300, 2)
	ends := s.produce(w.records)
	c := s.start("a")
	accepted := func() int { return s.sandbox.Stats().AcceptedInvitations }

	waitFor(t, 60*time.Second, "250 invitations accepted", func() bool { return accepted() >= 250 })
	r.Stop(t)
	atStop := accepted()
	if atStop >= len(w.want) {
		t.Fatalf("all %d invitations were sent before Redis stopped: the test proves nothing", atStop)
	}

	code, ready := readiness(c)
	waitFor(t, 10*time.Second, "/readyz to fail its redis check", func() bool {
		code, ready = readiness(c)
		return code == http.StatusServiceUnavailable && ready.Checks["redis"] != "" && ready.Checks["redis"] != "ok"
	})
	t.Logf("/readyz while Redis is down: %d, redis check %q", code, ready.Checks["redis"])

	// Calls that took their ledger reservation and rate-limit slot before Redis stopped
	// may still land, within one request timeout; after that nothing may be accepted
	// until Redis is back. The sandbox staying quiet for longer than a request timeout
	// is that condition; waiting for it fails if invitations keep being accepted.
	quiet := s.envDuration("INVITEPIPE_TRUSTPILOT_REQUEST_TIMEOUT") + time.Second
	settled := waitQuiet(t, 20*time.Second, quiet, accepted)
	if landed := settled - atStop; landed > maxInflight {
		t.Errorf("%d invitations were accepted after Redis stopped; at most the %d messages in flight may land", landed, maxInflight)
	}
	if code, ready = readiness(c); code != http.StatusServiceUnavailable || ready.Checks["redis"] == "ok" {
		t.Errorf("/readyz = %d %+v after %s without Redis, want 503 with a failing redis check", code, ready, quiet)
	}
	t.Logf("Redis stopped at %d accepted invitations, %d after in-flight calls landed; none for %s", atStop, settled, quiet)
	if n := accepted(); n != settled {
		t.Errorf("%d invitations accepted while Redis was down, after the calls in flight had landed", n-settled)
	}

	r.Start(t)
	waitFor(t, 30*time.Second, "/readyz 200 once Redis is back", c.ready)
	s.waitCommitted(ends, 90*time.Second)
	checkSentExactlyOnce(t, s, w, nil)
	checkDeadLetters(t, s, w, 0)
	if n := s.dlqCount(); n != int64(len(w.bad)) {
		t.Errorf("DLQ holds %d records, want %d", n, len(w.bad))
	}
	if code, ready = readiness(c); code != http.StatusOK || ready.Checks["redis"] != "ok" {
		t.Errorf("/readyz = %d %+v at the end, want 200 with redis ok", code, ready)
	}
}

// TestBrokenDestination makes the sandbox refuse every call of the business unit with
// 403 errorCode 1014 (a wrong x-business-user-id) for a while: the destination pauses,
// holding its messages without dead-lettering or committing them, probing it now and
// then; once the sandbox accepts again, everything is sent exactly once.
func TestBrokenDestination(t *testing.T) {
	s := newStack(t, stackOptions{})
	probeInterval := s.envDuration("INVITEPIPE_DESTINATION_PROBE_INTERVAL")
	forbidden := sandbox.Faults{Forced: map[string]sandbox.ForcedStatus{s.businessUnit: {Status: http.StatusForbidden, ErrorCode: 1014}}}
	if err := s.sandbox.SetFaults(forbidden); err != nil {
		t.Fatal(err)
	}
	w := newWorkload(600, 20, 0, 3)
	ends := s.produce(w.records)
	started := time.Now()
	c := s.start("a")

	waitFor(t, 30*time.Second, "/readyz to list the destination as paused", func() bool {
		_, ready := readiness(c)
		return len(ready.Paused) == 1 && strings.HasPrefix(ready.Paused[0], s.destination+": ")
	})
	code, ready := readiness(c)
	if code != http.StatusOK {
		t.Errorf("/readyz = %d with a paused destination, want 200 (a paused destination is alerted on, not restarted)", code)
	}
	t.Logf("paused: %q", ready.Paused)
	if v, ok := sample(t, c, "invitepipe_destination_paused", `destination="`+s.destination+`"`); !ok || v != 1 {
		t.Errorf("invitepipe_destination_paused = %v (found %v), want 1", v, ok)
	}

	// While paused the destination is probed, not hammered: beyond the calls already
	// under way when it paused (at most maxInflight), one call per probe interval.
	refused := func() int { return s.sandbox.Stats().Calls[sandbox.ClassInvitations][http.StatusForbidden] }
	before := refused()
	waitFor(t, 20*time.Second, "3 probes of the paused destination", func() bool { return refused() >= before+3 })
	elapsed := time.Since(started)
	if n, most := refused(), maxInflight+int(elapsed/probeInterval)+1; n > most {
		t.Errorf("the sandbox refused %d calls in %s; want at most %d (calls in flight plus one probe per %s)", n, elapsed.Round(time.Millisecond), most, probeInterval)
	}
	if n := s.sandbox.Stats().AcceptedInvitations; n != 0 {
		t.Errorf("%d invitations accepted while the destination refuses every call", n)
	}
	if n := s.dlqCount(); n != 0 {
		t.Errorf("the paused destination dead-lettered %d records; its messages must be held", n)
	}
	for p, off := range s.committed() {
		if off > 0 {
			t.Errorf("partition %d committed to %d while every message is held", p, off)
		}
	}

	if err := s.sandbox.SetFaults(sandbox.Faults{}); err != nil {
		t.Fatal(err)
	}
	s.waitCommitted(ends, 90*time.Second)
	checkSentExactlyOnce(t, s, w, nil)
	if n := s.dlqCount(); n != 0 {
		t.Errorf("DLQ holds %d records, want none", n)
	}
	if _, ready := readiness(c); len(ready.Paused) != 0 {
		t.Errorf("/readyz still lists paused destinations: %q", ready.Paused)
	}
	if v, ok := sample(t, c, "invitepipe_destination_paused", `destination="`+s.destination+`"`); !ok || v != 0 {
		t.Errorf("invitepipe_destination_paused = %v (found %v) after it resumed, want 0", v, ok)
	}
}

// TestSharedRateLimit runs three replicas against one destination whose contract allows
// 50 calls in any 5 seconds (rate_limit.windows), the sandbox enforcing the same limit:
// together they never exceed it, and they use at least 90% of it.
func TestSharedRateLimit(t *testing.T) {
	limit := sandbox.RateWindow{Limit: 50, Window: 5 * time.Second}
	s := newStack(t, stackOptions{
		partitions: 6,
		rateLimit:  fmt.Sprintf("{ per_5min: 100000, per_hour: 1000000, windows: [{ calls: %d, per: %s }] }", limit.Limit, limit.Window),
		sandbox:    func(c *sandbox.Config) { c.RateLimits = []sandbox.RateWindow{limit} },
	})
	// Every replica joins before the rows arrive, so the group does not rebalance while
	// the budget is measured.
	replicas := []*consumer{s.start("a"), s.start("b"), s.start("c")}
	w := newWorkload(4*limit.Limit+limit.Limit/2, 0, 0, 4)
	ends := s.produce(w.records)
	s.waitCommitted(ends, 90*time.Second)
	checkSentExactlyOnce(t, s, w, nil)

	st := s.sandbox.Stats()
	if n := st.Calls[sandbox.ClassInvitations][http.StatusTooManyRequests]; n != 0 {
		t.Errorf("the sandbox answered 429 %d times; the shared budget must keep every call within its limit", n)
	}
	peaks := st.RateWindows[s.apiKey]
	if len(peaks) != 1 || peaks[0].MaxCalls > limit.Limit {
		t.Errorf("busiest windows = %+v, want one of at most %d calls", peaks, limit.Limit)
	}

	// Achieved rate: the rows were all waiting from the start, so every whole window
	// from the first acceptance on should be nearly full. k windows may hold at most k
	// times the limit.
	var times []time.Time
	for _, inv := range s.sandbox.Invitations(s.businessUnit, "") {
		times = append(times, inv.CreatedAt)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	first, last := times[0], times[len(times)-1]
	k := int(last.Sub(first) / limit.Window)
	if k < 3 {
		t.Fatalf("the run spans %s: fewer than 3 whole windows of %s to measure", last.Sub(first), limit.Window)
	}
	end := first.Add(time.Duration(k) * limit.Window)
	in := 0
	for _, at := range times {
		if at.Before(end) {
			in++
		}
	}
	used := float64(in) / float64(k*limit.Limit)
	t.Logf("%d invitations in %d windows of %s from the first: %.1f%% of the limit (%d replicas, peak %+v)", in, k, limit.Window, 100*used, len(replicas), peaks)
	if used < 0.9 {
		t.Errorf("the replicas used %.1f%% of the shared limit, want at least 90%%", 100*used)
	}
	for _, r := range replicas {
		if n, ok := sample(t, r, "invitepipe_messages_total", `outcome="sent"`); !ok || n == 0 {
			t.Errorf("replica %s sent no invitation (%v, %v): the test did not share the budget", r.name, n, ok)
		}
	}
}

// readyzBody is the part of /readyz the tests read.
type readyzBody struct {
	Checks map[string]string `json:"checks"`
	Paused []string          `json:"paused_destinations"`
}

// readiness returns /readyz's status code and body; 0 when it does not answer.
func readiness(c *consumer) (int, readyzBody) {
	var body readyzBody
	resp, err := http.Get("http://" + c.admin + "/readyz")
	if err != nil {
		return 0, body
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// sample returns the value of the sample of metric name whose labels are exactly labels
// (e.g. `destination="shop-eu"`) on c's /metrics, and whether it is there.
func sample(t *testing.T, c *consumer, name, labels string) (float64, bool) {
	t.Helper()
	resp, err := http.Get("http://" + c.admin + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics of %s: %v", c.name, err)
	}
	defer resp.Body.Close()
	prefix := name + "{" + labels + "} "
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s%s: %v", name, labels, err)
			}
			return f, true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read /metrics of %s: %v", c.name, err)
	}
	return math.NaN(), false
}

// envDuration is the consumers' duration variable name.
func (s *stack) envDuration(name string) time.Duration {
	s.t.Helper()
	d, err := time.ParseDuration(s.env[name])
	if err != nil {
		s.t.Fatalf("%s: %v", name, err)
	}
	return d
}

// waitQuiet waits until value has not changed for quiet, and returns it; the test fails
// when that does not happen within.
func waitQuiet(t *testing.T, within, quiet time.Duration, value func() int) int {
	t.Helper()
	last, since := value(), time.Now()
	waitFor(t, within, fmt.Sprintf("no change for %s", quiet), func() bool {
		if v := value(); v != last {
			last, since = v, time.Now()
		}
		return time.Since(since) >= quiet
	})
	return last
}
