package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteTable writes the report for a terminal.
func (rep *Report) WriteTable(w io.Writer) error {
	s := rep.Setup
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{name}, args...)...)
	}
	consumer := "in this process"
	switch {
	case s.Processes == 1:
		consumer = "1 process"
	case s.Processes > 1:
		consumer = fmt.Sprintf("%d processes", s.Processes)
	}
	fmt.Fprintf(tw, "invitepipe bench, run %s (%d CPUs; timings depend on what else runs on the machine)\n", rep.Run, s.CPUs)
	row("rows", "%d written: %d valid, %d duplicates, %d bad; %d destinations, %d activations (%s)",
		rep.Rows.Written, rep.Rows.Valid, rep.Rows.Duplicates, rep.Rows.Bad, s.Destinations, s.Activations, s.Mix)
	row("parts", "Kafka %s (%d partitions), Redis %s, consumer %s, %s (concurrency %d, calls in flight %d)", s.Kafka, s.Partitions, s.Redis, s.Consumer, consumer, s.Concurrency, s.CallsInFlight)
	row("sandbox", "latency %s..%s, faults %s, budget per destination %s", s.LatencyMin, s.LatencyMax, faultsText(s.Faults), s.Budget)
	verdict := "correct"
	if !rep.Correct {
		verdict = "INCORRECT"
	}
	c := rep.Correctness
	row("correctness", "%s: %d/%d accepted, %d duplicates at the sandbox (must be 0), %d/%d dead-lettered",
		verdict, c.Accepted, c.ExpectedAccepted, c.SandboxDuplicates, c.DeadLettered, c.ExpectedDeadLetters)
	row("invitations/s", "%.1f mean (%d in %.1f s from the first row written to the last accepted; all committed at %.1f s)",
		rep.Invitations.PerSecond, rep.Invitations.Accepted, rep.Invitations.Seconds, rep.Invitations.CommittedSeconds)
	row("row to accept", "p50 %.0f ms, p99 %.0f ms, max %.0f ms", rep.Latency.P50, rep.Latency.P99, rep.Latency.Max)
	if rd := rep.Redis; rd.ServerCommandsPerInvitation != nil {
		row("redis (server)", "%.2f commands per invitation", *rd.ServerCommandsPerInvitation)
	}
	if rd := rep.Redis; rd.ClientRoundTripsPerInvitation != nil {
		row("redis (consumer)", "%.2f round trips, %.2f commands per invitation", *rd.ClientRoundTripsPerInvitation, *rd.ClientCommandsPerInvitation)
	}
	if rp := rep.Replay; rp != nil {
		row("replay", "%d rows read again in %.1f s: %.0f rows/s; %d new invitations (must be 0)", rp.Rows, rp.Seconds, rp.RowsPerSecond, rp.NewInvitations)
	}
	writeParts(tw, "CPU s / 1,000 inv.", rep.Parts)
	if rp := rep.Replay; rp != nil {
		writeParts(tw, "CPU s / 1,000 rows replayed", rp.Parts)
	}
	return tw.Flush()
}

// writeParts writes the parts' costs as a table; per names the per-1,000 column.
func writeParts(tw io.Writer, per string, parts []Part) {
	fmt.Fprintf(tw, "\npart\truns\tpid\tCPU s\t%s\tpeak RSS\twindow\n", per)
	for _, p := range parts {
		if p.Note != "" {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t%s\n", p.Name, p.Runs, p.Note)
			continue
		}
		rss := ""
		if p.PeakRSSBytes > 0 {
			rss = fmt.Sprintf("%.0f MiB", float64(p.PeakRSSBytes)/(1<<20))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d %s\t%.2f\t%.3f\t%s\t%s\n", p.Name, p.Runs, p.PID, p.Command, p.CPUSeconds, p.CPUPer1000, rss, p.Window)
	}
}

// Layout of the plot, in SVG user units.
const (
	plotWidth  = 720.0
	panelH     = 200.0
	marginL    = 70.0
	marginR    = 20.0
	marginT    = 30.0
	panelGap   = 60.0
	plotHeight = marginT + 2*panelH + panelGap + 40
)

// WriteSVG draws the throughput (invitations per second) and the row-to-accept latency
// (p50 and p99) over the run, one panel each, as a plain SVG with a polyline per series.
func (rep *Report) WriteSVG(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n",
		plotWidth, plotHeight, plotWidth, plotHeight)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="18" font-size="14">invitepipe bench %s: %d invitations, %.1f/s mean, p50 %.0f ms, p99 %.0f ms</text>`+"\n",
		marginL, rep.Run, rep.Invitations.Accepted, rep.Invitations.PerSecond, rep.Latency.P50, rep.Latency.P99)
	tp := make([]float64, len(rep.Series))
	p50 := make([]float64, len(rep.Series))
	p99 := make([]float64, len(rep.Series))
	for i, p := range rep.Series {
		tp[i], p50[i], p99[i] = p.PerSecond, p.P50, p.P99
	}
	panel(&b, rep.Series, marginT, "invitations per second", []series{{"invitations/s", "#1f77b4", tp}})
	panel(&b, rep.Series, marginT+panelH+panelGap, "row to accept (ms)", []series{{"p50", "#2ca02c", p50}, {"p99", "#d62728", p99}})
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">seconds since the first row was written</text>`+"\n",
		marginL+(plotWidth-marginL-marginR)/2, plotHeight-8)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// series is one line of a panel.
type series struct {
	name, color string
	values      []float64
}

// panel draws the axes of one panel at top and a polyline per series over time.
func panel(b *strings.Builder, points []Point, top float64, title string, lines []series) {
	width := plotWidth - marginL - marginR
	tMax := 1.0
	if n := len(points); n > 0 {
		tMax = max(points[n-1].T, 1)
	}
	yMax := 0.0
	for _, l := range lines {
		for _, v := range l.values {
			yMax = max(yMax, v)
		}
	}
	yMax = niceCeil(yMax)
	x := func(t float64) float64 { return marginL + t/tMax*width }
	y := func(v float64) float64 { return top + panelH - v/yMax*panelH }
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f">%s</text>`+"\n", marginL, top-6, title)
	fmt.Fprintf(b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`+"\n", marginL, top, width, panelH)
	for i := 0; i <= 4; i++ {
		v := yMax * float64(i) / 4
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/><text x="%.1f" y="%.1f" text-anchor="end">%g</text>`+"\n",
			marginL, y(v), marginL+width, y(v), marginL-6, y(v)+4, v)
		t := tMax * float64(i) / 4
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%.0f</text>`+"\n", x(t), top+panelH+16, t)
	}
	for i, l := range lines {
		var pts []string
		for j, v := range l.values {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(points[j].T), y(v)))
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", l.color, strings.Join(pts, " "))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" fill="%s" text-anchor="end">%s</text>`+"\n", marginL+width-6, top+16+float64(i)*14, l.color, l.name)
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, so the axis reads well.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := 1.0
	for p*10 <= v {
		p *= 10
	}
	for p > v {
		p /= 10
	}
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
