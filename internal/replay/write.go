package replay

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// Write prints the plan as a table, a partition per line: the committed offset, the
// target, the log's bounds and what the move does.
func (p *Plan) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "group %s, topic %s, to %s\n", p.Group, p.Topic, p.Target)
	fmt.Fprintln(tw, "PARTITION\tCOMMITTED\tTARGET\tLOG\tEFFECT")
	for _, pt := range p.Partitions {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d-%d\t%s\n", pt.ID, committedText(pt), pt.Target, pt.LogStart, pt.LogEnd, effect(pt))
	}
	return tw.Flush()
}

// committedText is the committed offset, saying where the group resumes when it has none
// or when retention deleted it.
func committedText(pt Partition) string {
	switch {
	case pt.Committed < 0:
		return fmt.Sprintf("none (starts at %d)", pt.From())
	case pt.Committed < pt.LogStart:
		return fmt.Sprintf("%d (deleted; resumes at %d)", pt.Committed, pt.From())
	}
	return fmt.Sprint(pt.Committed)
}

// effect says what moving the partition does to its rows.
func effect(pt Partition) string {
	switch {
	case pt.ReadAgain() > 0:
		return fmt.Sprintf("%d rows read again", pt.ReadAgain())
	case pt.Skipped() > 0 && pt.Unsent > 0:
		return fmt.Sprintf("%d rows skipped, %d of them never sent", pt.Skipped(), pt.Unsent)
	case pt.Skipped() > 0:
		return fmt.Sprintf("%d rows skipped, all already done", pt.Skipped())
	case pt.Moves():
		return "nothing read again or skipped (offset committed)"
	}
	return "unchanged"
}
