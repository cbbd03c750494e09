package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/dlq"
	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/ledger"
	"github.com/invitepipe/invitepipe/internal/logging"
	"github.com/invitepipe/invitepipe/internal/mapping"
	"github.com/invitepipe/invitepipe/internal/producer"
)

// dlqCommands are the subcommands of `invitepipe dlq`.
var dlqCommands = []struct{ name, summary string }{
	{"list", "count the dead-letter records by class, activation and destination"},
	{"show", "print dead-letter records: key, value (emails masked), reason, source offset"},
	{"redrive", "republish selected records to the rows topic (a dry run unless --execute)"},
}

// runDLQ reads the dead-letter topic, from its start to its current end, and redrives
// records.
func runDLQ(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, "Usage: invitepipe dlq <list|show|redrive> [flags]   (invitepipe dlq <subcommand> --help for its flags and variables)")
		for _, c := range dlqCommands {
			fmt.Fprintf(stdout, "  %-8s %s\n", c.name, c.summary)
		}
		if len(args) == 0 {
			return errors.New("name a subcommand: list, show or redrive")
		}
		return flag.ErrHelp
	}
	switch args[0] {
	case "list":
		return runDLQList(ctx, args[1:], stdout)
	case "show":
		return runDLQShow(ctx, args[1:], stdout)
	case "redrive":
		return runDLQRedrive(ctx, args[1:], stdout)
	}
	return fmt.Errorf("unknown subcommand %q: use list, show or redrive (see --help)", args[0])
}

// dlqSetup is what every dlq subcommand reads: its flags, the configuration, the
// activation file and the Kafka connection.
type dlqSetup struct {
	fs          *flag.FlagSet
	cfg         config.DLQ
	activations *string
	filter      *filterFlags // nil for list
	file        *activation.File
	conn        *kafkaconn.Conn
}

func newDLQSetup(name, usage string, stdout io.Writer, filters bool) *dlqSetup {
	s := &dlqSetup{}
	s.fs = newFlagSet("dlq "+name, "dlq "+usage, &s.cfg, stdout)
	s.activations = s.fs.String("activations", "", "activation file: activation -> destination, and the mapping of rows (default: $INVITEPIPE_ACTIVATIONS)")
	if filters {
		s.filter = registerFilterFlags(s.fs)
	}
	return s
}

// load parses args, reads the configuration and the activation file and builds the
// Kafka connection.
func (s *dlqSetup) load(args []string) error {
	if err := parseFlags(s.fs, args); err != nil {
		return err
	}
	if err := config.Load(&s.cfg); err != nil {
		return err
	}
	if *s.activations != "" {
		s.cfg.Activations = *s.activations
	}
	f, err := activation.Load(s.cfg.Activations)
	if err != nil {
		return fmt.Errorf("%w (name the consumer's activation file with --activations or INVITEPIPE_ACTIVATIONS)", err)
	}
	s.file = f
	s.conn, err = kafkaconn.New(s.cfg.Kafka)
	return err
}

// destination names the destination of an activation of the file.
func (s *dlqSetup) destination(id string) (string, bool) {
	if a, ok := s.file.Activation(id); ok {
		return a.Destination, true
	}
	return "", false
}

// filterFlags are the selection flags of show and redrive.
type filterFlags struct {
	class, activation, since, until, offsets *string
}

func registerFilterFlags(fs *flag.FlagSet) *filterFlags {
	return &filterFlags{
		class:      fs.String("class", "", "only these error classes, comma-separated (e.g. unknown_activation,invalid_row)"),
		activation: fs.String("activation", "", "only records of these activations, comma-separated"),
		since:      fs.String("since", "", "only records dead-lettered at or after this time (RFC 3339, e.g. 2026-11-25T10:00:00Z)"),
		until:      fs.String("until", "", "only records dead-lettered before this time (RFC 3339)"),
		offsets:    fs.String("offsets", "", "only the records at these DLQ positions, partition:offset comma-separated (e.g. 0:17,2:40)"),
	}
}

func (ff *filterFlags) filter() (dlq.Filter, error) {
	var f dlq.Filter
	var errs []error
	for c := range splitList(*ff.class) {
		f.Classes = append(f.Classes, dlq.Class(c))
	}
	for a := range splitList(*ff.activation) {
		f.Activations = append(f.Activations, a)
	}
	for _, t := range []struct {
		flag, value string
		into        *time.Time
	}{{"--since", *ff.since, &f.Since}, {"--until", *ff.until, &f.Until}} {
		if t.value == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.value)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not an RFC 3339 time; write e.g. 2026-11-25T10:00:00Z", t.flag, t.value))
		}
		*t.into = v
	}
	if *ff.offsets != "" {
		p, err := dlq.ParsePositions(*ff.offsets)
		if err != nil {
			errs = append(errs, fmt.Errorf("--offsets: %w", err))
		}
		f.Positions = p
	}
	if err := f.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("--class, --since, --until: %w", err))
	}
	return f, errors.Join(errs...)
}

// splitList yields the non-empty items of a comma-separated flag, trimmed.
func splitList(s string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" && !yield(item) {
				return
			}
		}
	}
}

// runDLQList counts the records by class, activation and destination.
func runDLQList(ctx context.Context, args []string, stdout io.Writer) error {
	s := newDLQSetup("list", "list [--activations FILE]", stdout, false)
	if err := s.load(args); err != nil {
		return err
	}
	sum := dlq.Summary{Destination: s.destination}
	if err := dlq.Read(ctx, s.conn, s.cfg.DLQTopic, func(e dlq.Entry) error { sum.Add(e); return nil }); err != nil {
		return err
	}
	if sum.Total.Records == 0 && sum.NotRecords == 0 {
		_, err := fmt.Fprintf(stdout, "dead-letter topic %s is empty\n", s.cfg.DLQTopic)
		return err
	}
	fmt.Fprintf(stdout, "dead-letter topic %s: %d record(s)\n\n", s.cfg.DLQTopic, sum.Total.Records)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLASS\tACTIVATION\tDESTINATION\tRECORDS\tOLDEST FAILED-AT\tNEWEST FAILED-AT")
	for _, g := range append(sum.Groups(), sum.Total) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", cmp.Or(string(g.Class), "TOTAL"), g.Activation, g.Destination, g.Records, stamp(g.Oldest), stamp(g.Newest))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if sum.NotRecords > 0 {
		fmt.Fprintf(stdout, "\n%d message(s) of the topic are not dead-letter records (no %s header): see `invitepipe dlq show`\n", sum.NotRecords, dlq.HeaderClass)
	}
	return nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// runDLQShow prints the selected records, emails masked unless --reveal.
func runDLQShow(ctx context.Context, args []string, stdout io.Writer) error {
	s := newDLQSetup("show", "show [--activations FILE] [filters] [--limit N] [--reveal]", stdout, true)
	reveal := s.fs.Bool("reveal", false, "print email addresses in clear (they are masked by default)")
	limit := s.fs.Int("limit", 0, "print at most this many records (0: all)")
	if err := s.load(args); err != nil {
		return err
	}
	if *limit < 0 {
		return fmt.Errorf("--limit %d is negative; use 0 for all, or a positive count", *limit)
	}
	f, err := s.filter.filter()
	if err != nil {
		return err
	}
	matching, shown := 0, 0
	err = dlq.Read(ctx, s.conn, s.cfg.DLQTopic, func(e dlq.Entry) error {
		if !f.Match(e) {
			return nil
		}
		if matching++; *limit > 0 && shown == *limit {
			return nil
		}
		shown++
		fmt.Fprintf(stdout, "--- DLQ %s\n", dlq.Position{Partition: e.Partition, Offset: e.Offset})
		if e.Err != nil {
			fmt.Fprintf(stdout, "not a dead-letter record: %v\n\n", e.Err)
			return nil
		}
		rec := e.Record
		if !*reveal {
			rec = rec.Masked()
		}
		fmt.Fprintln(stdout, dlq.Describe(rec))
		return nil
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%d of %d matching record(s) shown\n", shown, matching)
	return err
}

// runDLQRedrive republishes the selected records to the rows topic.
func runDLQRedrive(ctx context.Context, args []string, stdout io.Writer) error {
	s := newDLQSetup("redrive", "redrive [--activations FILE] (filters | --all) [--execute] [--accept-possible-duplicates]", stdout, true)
	all := s.fs.Bool("all", false, "select every record of the topic (otherwise name a filter)")
	execute := s.fs.Bool("execute", false, "republish the records; without it, a dry run prints what would be republished and writes nothing")
	accept := s.fs.Bool("accept-possible-duplicates", false, "allow unknown_outcome records (after checking Trustpilot's invitation history): clear their ledger marks, then republish")
	if err := s.load(args); err != nil {
		return err
	}
	f, err := s.filter.filter()
	if err != nil {
		return err
	}
	if f.Empty() != *all {
		if *all {
			return errors.New("--all selects every record: use it without --class, --activation, --since, --until and --offsets")
		}
		return errors.New("name what to redrive: --class, --activation, --since/--until or --offsets, or --all for every record")
	}
	// The snapshot is read twice, to plan and to write, so the selection is never held
	// in memory; records dead-lettered meanwhile are not part of it.
	snap, err := dlq.Take(ctx, s.conn, s.cfg.DLQTopic)
	if err != nil {
		return err
	}
	rd := &dlq.Redrive{ID: dlq.NewRedriveID(time.Now()), Filter: f}
	if err := rd.Plan(ctx, snap, mapping.NewRouter(s.file)); err != nil {
		return err
	}
	printRedrivePlan(stdout, rd, s.cfg.Topic)
	if rd.Selected == 0 {
		return nil
	}
	if err := rd.Check(*accept); err != nil {
		if errors.Is(err, dlq.ErrPossibleDuplicates) {
			fmt.Fprintf(stdout, "\n!!! REFUSED: %d unknown_outcome record(s) selected. Their invitations MAY ALREADY EXIST in Trustpilot.\n!!! Check the invitation history of each reference first (invitepipe dlq show --class unknown_outcome).\n", rd.Unknown)
		}
		return err
	}
	for _, m := range rd.Marks {
		fmt.Fprintf(stdout, "ledger mark to clear: reference %s, business unit %s\n", logging.MaskEmails(m.Reference), m.BusinessUnitID)
	}
	if !*execute {
		_, err := fmt.Fprintln(stdout, "dry run: nothing changed; add --execute to republish")
		return err
	}
	rdb, err := s.cfg.Redis.Client()
	if err != nil {
		return err
	}
	defer rdb.Close()
	ldg, err := ledger.New(rdb, ledger.Options{Lease: s.cfg.LedgerLease, Retention: s.cfg.LedgerRetention})
	if err != nil {
		return err
	}
	w := producer.NewWriter(s.conn, s.cfg.Topic, 0)
	res, err := rd.Execute(ctx, snap, ldg, w)
	if cerr := w.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("rows topic: %w", cerr)
	}
	fmt.Fprintf(stdout, "%s: %d ledger mark(s) cleared, %d row(s) republished to %s\n", rd.ID, res.Cleared, res.Written, s.cfg.Topic)
	for _, m := range res.Confirmed {
		fmt.Fprintf(stdout, "reference %s (business unit %s) is confirmed sent: its row will be skipped as a duplicate\n", logging.MaskEmails(m.Reference), m.BusinessUnitID)
	}
	return err
}

// printRedrivePlan prints the redrive's id, its counts by class and a few keys (masked).
func printRedrivePlan(w io.Writer, rd *dlq.Redrive, topic string) {
	if rd.Selected == 0 {
		fmt.Fprintln(w, "no record matches: nothing to redrive")
		return
	}
	fmt.Fprintf(w, "%s: %d record(s) to republish to %s with header %s=%s\n", rd.ID, rd.Selected, topic, dlq.HeaderRedrive, rd.ID)
	for _, c := range dlq.Classes {
		if n := rd.ByClass[c]; n > 0 {
			fmt.Fprintf(w, "  %-18s %d\n", c, n)
		}
	}
	for _, e := range rd.Sample {
		fmt.Fprintf(w, "  key %s (DLQ %s)\n", logging.MaskEmails(string(e.Record.Source.Key)), dlq.Position{Partition: e.Partition, Offset: e.Offset})
	}
	if more := rd.Selected - len(rd.Sample); more > 0 {
		fmt.Fprintf(w, "  ... and %d more\n", more)
	}
}
