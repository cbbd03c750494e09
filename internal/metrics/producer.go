package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Row outcomes of a producer run, the values of invitepipe_producer_rows_total's outcome
// label: one per count of the run's summary.
const (
	// RowsRead counts the source's records, invalid ones included.
	RowsRead = "read"
	// RowsNew counts rows whose key the diff state did not hold.
	RowsNew = "new"
	// RowsEmitted counts rows Kafka acknowledged.
	RowsEmitted = "emitted"
	// RowsInvalid counts records that are not rows, or rows without a usable key.
	RowsInvalid = "invalid"
	// RowsDuplicate counts rows whose key came earlier in the same run.
	RowsDuplicate = "duplicate"
)

// RowOutcomes lists the row outcomes in the summary's order.
var RowOutcomes = []string{RowsRead, RowsNew, RowsEmitted, RowsInvalid, RowsDuplicate}

// Producer holds the producer's metrics and the registry that exposes them. It is
// separate from the consumer's Metrics: a producer process exports no consumer series.
type Producer struct {
	Registry *prometheus.Registry

	// Rows counts rows by activation and outcome (read, new, emitted, invalid,
	// duplicate), the counts of each run's summary added up. Dry runs are not counted.
	Rows *prometheus.CounterVec
	// RunDuration observes the duration of every run that was not refused for a held
	// lock, failed or not, in seconds.
	RunDuration *prometheus.HistogramVec
	// LastSuccess is the Unix time at which the activation's last successful run ended;
	// absent until this process had one.
	LastSuccess *prometheus.GaugeVec
	// BuildInfo is 1, labelled with the version.
	BuildInfo *prometheus.GaugeVec
}

// NewProducer creates the producer's metrics on a fresh registry, with Go runtime and
// process collectors.
func NewProducer(version string) *Producer {
	m := &Producer{
		Registry: prometheus.NewRegistry(),
		Rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invitepipe_producer_rows_total", Help: "Rows of producer runs by activation and outcome: read, new, emitted, invalid, duplicate.",
		}, []string{"activation", "outcome"}),
		RunDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "invitepipe_producer_run_duration_seconds", Help: "Duration of producer runs, failed ones included.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 17), // 0.1 s to about 1.8 h
		}, []string{"activation"}),
		LastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "invitepipe_producer_last_success_timestamp_seconds", Help: "Unix time at which the activation's last successful run ended.",
		}, []string{"activation"}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "invitepipe_build_info", Help: "Always 1; the version label names the build.",
		}, []string{"version"}),
	}
	m.Registry.MustRegister(m.Rows, m.RunDuration, m.LastSuccess, m.BuildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.BuildInfo.WithLabelValues(version).Set(1)
	return m
}

// Init exports activation's row counters at zero, so rate() works from the first scrape.
func (m *Producer) Init(activation string) {
	for _, o := range RowOutcomes {
		m.Rows.WithLabelValues(activation, o)
	}
}

// Run is what one producer run did, as its summary counts it.
type Run struct {
	Activation                              string
	Read, New, Emitted, Invalid, Duplicates int64
	Duration                                time.Duration
	// Succeeded is true when the run read its whole source and recorded what it emitted.
	Succeeded bool
	// Ended is when the run ended.
	Ended time.Time
}

// Observe records a run: its rows and duration always (a failed run's emitted rows were
// emitted), and its end as the last success when it succeeded.
func (m *Producer) Observe(r Run) {
	for _, c := range []struct {
		outcome string
		n       int64
	}{{RowsRead, r.Read}, {RowsNew, r.New}, {RowsEmitted, r.Emitted}, {RowsInvalid, r.Invalid}, {RowsDuplicate, r.Duplicates}} {
		m.Rows.WithLabelValues(r.Activation, c.outcome).Add(float64(c.n))
	}
	m.RunDuration.WithLabelValues(r.Activation).Observe(r.Duration.Seconds())
	if r.Succeeded {
		m.LastSuccess.WithLabelValues(r.Activation).Set(float64(r.Ended.UnixNano()) / 1e9)
	}
}
