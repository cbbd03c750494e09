package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Outcomes of a message, the values of invitepipe_messages_total's outcome label.
const (
	OutcomeSent      = "sent"
	OutcomeDuplicate = "duplicate"
	OutcomeDLQ       = "dlq"
	OutcomeRetried   = "retried"
)

// Metrics holds every invitepipe metric and the registry that exposes them.
type Metrics struct {
	Registry *prometheus.Registry

	// Messages counts messages by outcome: sent, duplicate, dlq (final) and retried (one
	// per retry of a transient failure).
	Messages *prometheus.CounterVec
	// Requests counts calls to Trustpilot by destination and HTTP status code ("error"
	// when no response came back).
	Requests *prometheus.CounterVec
	// RequestDuration observes the duration of calls to Trustpilot, in seconds.
	RequestDuration *prometheus.HistogramVec
	// Inflight is the number of messages fetched and not yet given an outcome.
	Inflight prometheus.Gauge
	// DestinationPaused is 1 while a destination is paused as misconfigured (401 after a
	// re-mint, 403, 404), else 0.
	DestinationPaused *prometheus.GaugeVec
	// RateLimitWait observes how long a call waited for its destination's budget, in
	// seconds.
	RateLimitWait *prometheus.HistogramVec
	// Commits counts successful offset commits.
	Commits prometheus.Counter
	// DeferredMessages is the number of messages held aside for a destination that
	// cannot take them now (paused, cooling down, out of budget, or retrying).
	DeferredMessages *prometheus.GaugeVec
	// DeferredOldest is the age of a destination's oldest deferred message, in seconds
	// (from its Kafka timestamp).
	DeferredOldest *prometheus.GaugeVec
	// DestinationWaiting is 1 for a destination and the reason it holds messages back:
	// paused, cooling, budget or retry.
	DestinationWaiting *prometheus.GaugeVec
	// ActionableLag is the number of messages of this process's partitions that it can
	// act on now: not fetched yet, or fetched and neither done nor deferred. KEDA scales
	// on its sum, so that messages waiting on a destination add no replicas.
	ActionableLag prometheus.Gauge
	// Lost counts messages that could not be read again from Kafka when their turn
	// came (deleted by retention before INVITEPIPE_DEFER_MAX_AGE ran out).
	Lost prometheus.Counter
	// BuildInfo is 1, labelled with the version.
	BuildInfo *prometheus.GaugeVec
}

// New creates the metrics on a fresh registry, with Go runtime and process collectors.
func New(version string) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invitepipe_messages_total", Help: "Messages by outcome: sent, duplicate, dlq, retried.",
		}, []string{"outcome"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invitepipe_trustpilot_requests_total", Help: "Calls to Trustpilot by destination and HTTP status code.",
		}, []string{"destination", "code"}),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "invitepipe_trustpilot_request_duration_seconds", Help: "Duration of calls to Trustpilot.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}, []string{"destination"}),
		Inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "invitepipe_inflight_messages", Help: "Messages fetched and not yet given an outcome.",
		}),
		DestinationPaused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "invitepipe_destination_paused", Help: "1 while a destination is paused as misconfigured.",
		}, []string{"destination"}),
		RateLimitWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "invitepipe_rate_limit_wait_seconds", Help: "Time a call waited for its destination's rate limit.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"destination"}),
		Commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "invitepipe_commits_total", Help: "Successful offset commits.",
		}),
		DeferredMessages: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "invitepipe_deferred_messages", Help: "Messages held aside for a destination that cannot take them now.",
		}, []string{"destination"}),
		DeferredOldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "invitepipe_deferred_oldest_seconds", Help: "Age of a destination's oldest deferred message.",
		}, []string{"destination"}),
		DestinationWaiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "invitepipe_destination_waiting", Help: "1 for a destination and the reason its messages wait: paused, cooling, budget, retry.",
		}, []string{"destination", "reason"}),
		ActionableLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "invitepipe_actionable_lag", Help: "Messages of this process's partitions it can act on now (not deferred, not done).",
		}),
		Lost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "invitepipe_deferred_lost_total", Help: "Deferred messages Kafka deleted before they could be read again.",
		}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "invitepipe_build_info", Help: "Always 1; the version label names the build.",
		}, []string{"version"}),
	}
	m.Registry.MustRegister(m.Messages, m.Requests, m.RequestDuration, m.Inflight, m.DestinationPaused,
		m.RateLimitWait, m.Commits, m.DeferredMessages, m.DeferredOldest, m.DestinationWaiting, m.ActionableLag, m.Lost, m.BuildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.BuildInfo.WithLabelValues(version).Set(1)
	for _, o := range []string{OutcomeSent, OutcomeDuplicate, OutcomeDLQ, OutcomeRetried} {
		m.Messages.WithLabelValues(o) // export zeros, so rate() works from the first scrape
	}
	return m
}
