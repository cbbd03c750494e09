package demo

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/dlq"
	"github.com/invitepipe/invitepipe/internal/metrics"
	"github.com/invitepipe/invitepipe/internal/producer"
)

// Summary is what became of the rows.
type Summary struct {
	// Producer is the producer's run of each activation with a source.
	Producer []producer.Summary
	// Destinations are the consumer's outcomes per destination, in file order.
	Destinations []DestinationSummary
	// HistoryURL is the embedded sandbox's invitation history page; "" against another
	// Trustpilot.
	HistoryURL string
}

// DestinationSummary is what became of one destination's rows.
type DestinationSummary struct {
	Name        string
	Activations []string // those with a source
	// Rows is how many rows the producer emitted for its activations; each got one of
	// the outcomes below.
	Rows       int64
	Sent       int64
	Duplicates int64
	// DeadLettered counts the rows written to the dead-letter topic, by class.
	DeadLettered map[dlq.Class]int64
	// Throttled counts the calls Trustpilot answered 429 (the rows waited and went on).
	Throttled int64
	// Recorded is how many invitations the embedded sandbox holds for the destination's
	// business unit; -1 against another Trustpilot.
	Recorded int
}

// DeadLetteredTotal is the sum of DeadLettered.
func (d DestinationSummary) DeadLetteredTotal() int64 {
	var n int64
	for _, c := range d.DeadLettered {
		n += c
	}
	return n
}

// summarize reads the outcomes per destination once every row has one.
func summarize(f *activation.File, sums []producer.Summary, m *metrics.Metrics, dead *deadLetterCounts, env *environment) (Summary, error) {
	out := Summary{Producer: sums, HistoryURL: env.historyURL}
	rows := map[string]int64{}
	for _, s := range sums {
		rows[s.Activation] = s.Emitted
	}
	var sent, duplicates int64
	for _, d := range f.Destinations {
		ds := DestinationSummary{
			Name:         d.Name,
			Sent:         count(m.Requests.WithLabelValues(d.Name, "2xx")),
			Throttled:    count(m.Requests.WithLabelValues(d.Name, "429")),
			DeadLettered: dead.of(d.Name),
			Recorded:     -1,
		}
		for _, a := range f.Activations {
			if n, ok := rows[a.ID]; ok && a.Destination == d.Name {
				ds.Activations = append(ds.Activations, a.ID)
				ds.Rows += n
			}
		}
		// Every row has exactly one outcome: what was neither sent nor dead-lettered was
		// a duplicate, which the total below checks.
		ds.Duplicates = ds.Rows - ds.Sent - ds.DeadLetteredTotal()
		if env.sandbox != nil {
			ds.Recorded = len(env.sandbox.Invitations(d.BusinessUnitID, ""))
		}
		sent += ds.Sent
		duplicates += ds.Duplicates
		out.Destinations = append(out.Destinations, ds)
	}
	wantSent, wantDup := count(m.Messages.WithLabelValues(metrics.OutcomeSent)), count(m.Messages.WithLabelValues(metrics.OutcomeDuplicate))
	if sent != wantSent || duplicates != wantDup {
		return out, fmt.Errorf("demo: per-destination counts (%d sent, %d duplicates) disagree with the consumer's totals (%d sent, %d duplicates)", sent, duplicates, wantSent, wantDup)
	}
	return out, nil
}

// Write prints the producer's table, the consumer's table per destination, and where to
// see the invitations.
func (s Summary) Write(w io.Writer) error {
	fmt.Fprintln(w, "\nProducer: rows read and emitted per activation")
	if err := producer.WriteSummaries(w, s.Producer); err != nil {
		return err
	}
	classes := map[dlq.Class]bool{}
	for _, d := range s.Destinations {
		for c := range d.DeadLettered {
			classes[c] = true
		}
	}
	order := slices.Sorted(maps.Keys(classes))
	fmt.Fprintln(w, "\nConsumer: the outcome of every row per destination")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	header := "DESTINATION\tACTIVATIONS\tROWS\tSENT\tDUPLICATES\t"
	if len(order) == 0 {
		header += "DEAD-LETTERED\t"
	}
	for _, c := range order {
		header += "DEAD-LETTERED " + strings.ToUpper(string(c)) + "\t"
	}
	fmt.Fprintln(tw, header+"429 ANSWERS\t")
	var total DestinationSummary
	total.DeadLettered = map[dlq.Class]int64{}
	for _, d := range s.Destinations {
		writeRow(tw, d.Name, strings.Join(d.Activations, ", "), d, order)
		total.Rows += d.Rows
		total.Sent += d.Sent
		total.Duplicates += d.Duplicates
		total.Throttled += d.Throttled
		for c, n := range d.DeadLettered {
			total.DeadLettered[c] += n
		}
	}
	writeRow(tw, "total", "", total, order)
	if err := tw.Flush(); err != nil {
		return err
	}
	if s.HistoryURL != "" {
		fmt.Fprintf(w, "\nInvitation history (the sandbox): %s\n", s.HistoryURL)
	}
	return nil
}

// writeRow prints one line of the consumer's table.
func writeRow(tw io.Writer, name, activations string, d DestinationSummary, classes []dlq.Class) {
	line := fmt.Sprintf("%s\t%s\t%d\t%d\t%d\t", name, activations, d.Rows, d.Sent, d.Duplicates)
	if len(classes) == 0 {
		line += "0\t"
	}
	for _, c := range classes {
		line += fmt.Sprintf("%d\t", d.DeadLettered[c])
	}
	fmt.Fprintf(tw, "%s%d\t\n", line, d.Throttled)
}
