package metrics

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestNewExposesTheContractNames(t *testing.T) {
	m := New("v1.2.3")
	m.Requests.WithLabelValues("shop-eu", "202").Inc()
	m.RequestDuration.WithLabelValues("shop-eu").Observe(0.1)
	m.DestinationPaused.WithLabelValues("shop-eu").Set(0)
	m.RateLimitWait.WithLabelValues("shop-eu").Observe(0)
	want := []string{
		"invitepipe_messages_total", "invitepipe_trustpilot_requests_total",
		"invitepipe_trustpilot_request_duration_seconds", "invitepipe_inflight_messages",
		"invitepipe_destination_paused", "invitepipe_rate_limit_wait_seconds",
		"invitepipe_commits_total", "invitepipe_build_info",
	}
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range families {
		got[f.GetName()] = true
	}
	for _, name := range want {
		if !got[name] {
			t.Errorf("registry lacks %s", name)
		}
	}
	if v := testutil.ToFloat64(m.BuildInfo.WithLabelValues("v1.2.3")); v != 1 {
		t.Errorf("build info = %v, want 1", v)
	}
	if n := testutil.CollectAndCount(m.Messages); n != 4 {
		t.Errorf("messages_total has %d series before any message, want the 4 outcomes at zero", n)
	}
}

func TestRegistriesAreIndependent(t *testing.T) {
	a, b := New("a"), New("b")
	a.Commits.Inc()
	if testutil.ToFloat64(b.Commits) != 0 {
		t.Error("a commit on one Metrics shows on another")
	}
	if err := testutil.GatherAndCompare(a.Registry, strings.NewReader(`
# HELP invitepipe_commits_total Successful offset commits.
# TYPE invitepipe_commits_total counter
invitepipe_commits_total 1
`), "invitepipe_commits_total"); err != nil {
		t.Error(err)
	}
}

func TestProducerObserveMatchesTheSummary(t *testing.T) {
	m := NewProducer("v1.2.3")
	m.Init("orders")
	if n := testutil.CollectAndCount(m.Rows); n != len(RowOutcomes) {
		t.Fatalf("rows_total has %d series after Init, want the %d outcomes at zero", n, len(RowOutcomes))
	}
	if n := testutil.CollectAndCount(m.LastSuccess); n != 0 {
		t.Fatalf("last_success has %d series before any success, want none", n)
	}
	ended := time.Unix(1700000000, 500000000)
	runs := []Run{
		{Activation: "orders", Read: 10, New: 4, Emitted: 4, Invalid: 1, Duplicates: 2, Duration: 2 * time.Second, Succeeded: true, Ended: ended},
		{Activation: "orders", Read: 3, New: 1, Emitted: 0, Duration: time.Second, Succeeded: false, Ended: ended.Add(time.Hour)},
	}
	for _, r := range runs {
		m.Observe(r)
	}
	tests := []struct {
		outcome string
		want    float64
	}{{RowsRead, 13}, {RowsNew, 5}, {RowsEmitted, 4}, {RowsInvalid, 1}, {RowsDuplicate, 2}}
	for _, tt := range tests {
		if got := testutil.ToFloat64(m.Rows.WithLabelValues("orders", tt.outcome)); got != tt.want {
			t.Errorf("rows_total{outcome=%q} = %v, want %v", tt.outcome, got, tt.want)
		}
	}
	// The failed run an hour later does not move the last success.
	if got := testutil.ToFloat64(m.LastSuccess.WithLabelValues("orders")); got != 1700000000.5 {
		t.Errorf("last_success = %v, want 1700000000.5 (the successful run's end)", got)
	}
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(`
# HELP invitepipe_producer_run_duration_seconds Duration of producer runs, failed ones included.
# TYPE invitepipe_producer_run_duration_seconds histogram
`+histogramText("orders", 3, 2)), "invitepipe_producer_run_duration_seconds"); err != nil {
		t.Error(err)
	}
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "invitepipe_") && !strings.HasPrefix(f.GetName(), "invitepipe_producer_") && f.GetName() != "invitepipe_build_info" {
			t.Errorf("the producer's registry exports the consumer's %s", f.GetName())
		}
	}
}

// histogramText is the exposition of invitepipe_producer_run_duration_seconds for one
// activation with count observations summing to sum seconds, each of 1 or 2 seconds.
func histogramText(activation string, sum float64, count int) string {
	var b strings.Builder
	bound := 0.1
	for i := 0; i < 17; i++ {
		n := 0
		if bound >= 1 {
			n = 1
		}
		if bound >= 2 {
			n = 2
		}
		fmt.Fprintf(&b, "invitepipe_producer_run_duration_seconds_bucket{activation=%q,le=%q} %d\n", activation, strconv.FormatFloat(bound, 'g', -1, 64), n)
		bound *= 2
	}
	fmt.Fprintf(&b, "invitepipe_producer_run_duration_seconds_bucket{activation=%q,le=\"+Inf\"} %d\n", activation, count)
	fmt.Fprintf(&b, "invitepipe_producer_run_duration_seconds_sum{activation=%q} %v\n", activation, sum)
	fmt.Fprintf(&b, "invitepipe_producer_run_duration_seconds_count{activation=%q} %d\n", activation, count)
	return b.String()
}
