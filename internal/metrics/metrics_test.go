package metrics

import (
	"strings"
	"testing"

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
