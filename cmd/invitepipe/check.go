package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/destination"
	"github.com/invitepipe/invitepipe/internal/mapping"
	"github.com/invitepipe/invitepipe/internal/producer"
	"github.com/invitepipe/invitepipe/internal/ratelimit"
	"github.com/invitepipe/invitepipe/internal/row"
	"github.com/invitepipe/invitepipe/internal/trustpilot"
)

// runCheck validates the activation file and previews the invitation of sample rows.
func runCheck(ctx context.Context, args []string, stdout io.Writer) error {
	var cfg config.Check
	fs := newFlagSet("check", "check [--activations FILE] [--rows FILE] [--online]", &cfg, stdout)
	activations := fs.String("activations", "", "activation file (default: $INVITEPIPE_ACTIVATIONS)")
	rows := fs.String("rows", "", "row messages to preview, one JSON per line as on the rows topic (schemas/row.v1.schema.json); - for stdin")
	online := fs.Bool("online", false, "also mint a token for each destination and list its templates (needs its secrets in the environment)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := config.Load(&cfg); err != nil {
		return err
	}
	if *activations != "" {
		cfg.Activations = *activations
	}
	f, err := activation.Load(cfg.Activations)
	if err != nil {
		return err
	}
	describe(stdout, cfg.Activations, f)
	var problems []error
	if err := checkSources(stdout, f); err != nil {
		problems = append(problems, err)
	}
	if *rows != "" {
		if err := previewRows(stdout, f, *rows); err != nil {
			problems = append(problems, err)
		}
	}
	if *online {
		if err := checkOnline(ctx, stdout, f, cfg.Trustpilot); err != nil {
			problems = append(problems, err)
		}
	}
	return errors.Join(problems...)
}

// describe prints what the file configures, and which destinations share the budget of
// an API key when the variables holding the keys are set (it reads no other secret).
func describe(w io.Writer, path string, f *activation.File) {
	fmt.Fprintf(w, "%s is valid: %d destination(s), %d activation(s)\n", path, len(f.Destinations), len(f.Activations))
	for _, d := range f.Destinations {
		r := d.RateLimit
		own := []ratelimit.Limit{{Count: r.Per5Min, Window: 5 * time.Minute}, {Count: r.PerHour, Window: time.Hour}}
		for _, rw := range r.Windows {
			own = append(own, ratelimit.Limit{Count: rw.Calls, Window: rw.Per})
		}
		fmt.Fprintf(w, "  destination %s: business unit %s, rate_limit %s\n", d.Name, d.BusinessUnitID, windows(own))
	}
	for i := range f.Activations {
		a := &f.Activations[i]
		fmt.Fprintf(w, "  activation %s -> %s: %s invitations", a.ID, a.Destination, a.InvitationType)
		if a.MaxAge > 0 {
			fmt.Fprintf(w, ", stale after %s", a.RawMaxAge)
		}
		fmt.Fprintln(w)
		d, _ := f.Destination(a.Destination)
		writeSettings(w, mapping.Settings(a, d))
	}
	budgets, groups, err := destination.Budgets(f, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(w, "  key budgets: unknown until every API key variable is set (%s)\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	fmt.Fprintln(w, "  key budgets (destinations whose API keys have the same value share one; per window, the smallest count applies):")
	for _, g := range groups {
		fmt.Fprintf(w, "    key %s: %s: %s\n", g.Key, strings.Join(g.Destinations, ", "), windows(g.Windows))
		for _, name := range g.Destinations {
			if b := budgets[name]; len(b.Limits) > 0 {
				fmt.Fprintf(w, "      %s also at most %s (its own rate_limit)\n", name, windows(b.Limits))
			}
		}
	}
}

// writeSettings prints an activation's resolved settings, one a line: name, value ("-"
// when each row supplies it or it is omitted) and where the value comes from.
func writeSettings(w io.Writer, settings []mapping.Setting) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range settings {
		value := s.Value
		if value == "" {
			value = "-"
		}
		fmt.Fprintf(tw, "      %s\t%s\t%s\n", s.Name, value, s.From())
	}
	tw.Flush()
}

// checkSources prints the source of each activation that has one (what
// `invitepipe produce` reads) and returns the problems of those it cannot read.
func checkSources(w io.Writer, f *activation.File) error {
	var problems []error
	for i := range f.Activations {
		a := &f.Activations[i]
		if len(a.Source) == 0 {
			continue
		}
		spec, err := producer.ParseSpec(a)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		fmt.Fprintf(w, "  activation %s source: %s\n", a.ID, spec)
	}
	return errors.Join(problems...)
}

// windows writes limits as "60 per 5m, unlimited per 1h".
func windows(limits []ratelimit.Limit) string {
	parts := make([]string, len(limits))
	for i, l := range limits {
		count := strconv.Itoa(l.Count)
		if l.Count >= ratelimit.Unlimited {
			count = "unlimited"
		}
		parts[i] = count + " per " + window(l.Window)
	}
	return strings.Join(parts, ", ")
}

// window writes d without its zero units: 5m, 1h, 1h30m, 24h, 2s.
func window(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// previewRows maps each row message of the file at path and prints the invitation JSON
// Trustpilot would receive, or why the row would be dead-lettered.
func previewRows(w io.Writer, f *activation.File, path string) error {
	in := io.Reader(os.Stdin)
	if path != "-" {
		file, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("rows: %w", err)
		}
		defer file.Close()
		in = file
	}
	router := mapping.NewRouter(f)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), row.MaxMessageBytes+1)
	bad := 0
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		out, err := previewRow(sc.Bytes(), router)
		if err != nil {
			bad++
			fmt.Fprintf(w, "line %d: %v\n", line, err)
			continue
		}
		fmt.Fprintf(w, "line %d: %s\n", line, out)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("rows: %w", err)
	}
	if bad > 0 {
		return fmt.Errorf("%d row(s) would be dead-lettered", bad)
	}
	return nil
}

func previewRow(value []byte, router *mapping.Router) (string, error) {
	r, err := router.Route(value)
	if err != nil {
		var classed interface{ Class() string }
		if errors.As(err, &classed) {
			return "", fmt.Errorf("%s: %w", classed.Class(), err)
		}
		return "", err
	}
	b, err := json.Marshal(r.Invitation)
	return r.Message.Activation + "/" + r.Message.RowID + " -> " + string(b), err
}

// checkOnline mints a token for each destination and lists its templates, which proves
// the credentials, the business user and the business unit id; then it checks that every
// template id an activation sends is one of its business unit's.
func checkOnline(ctx context.Context, w io.Writer, f *activation.File, tp config.Trustpilot) error {
	dests, err := destination.Build(f, tp, os.LookupEnv, nil)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(dests))
	for name := range dests {
		names = append(names, name)
	}
	slices.Sort(names)
	var errs []error
	templates := make(map[string][]trustpilot.Template, len(dests)) // of the destinations that answered
	for _, name := range names {
		d := dests[name]
		list, err := d.Client.ListTemplates(ctx, d.BusinessUnitID)
		if err != nil {
			errs = append(errs, fmt.Errorf("destination %s: %w", name, err))
			fmt.Fprintf(w, "  destination %s: FAILED: %v\n", name, err)
			continue
		}
		templates[name] = list
		fmt.Fprintf(w, "  destination %s: credentials accepted; %d template(s):", name, len(list))
		for _, t := range list {
			fmt.Fprintf(w, " %s (%s, %s)", t.ID, t.Name, t.Locale)
		}
		fmt.Fprintln(w)
	}
	for i := range f.Activations {
		a := &f.Activations[i]
		list, ok := templates[a.Destination]
		if !ok {
			continue
		}
		d, _ := f.Destination(a.Destination)
		for _, s := range mapping.Settings(a, d) {
			if err := unknownTemplate(a.ID, d, s, list); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// unknownTemplate says which setting to fix when s is a template id that is not among
// the templates of d's business unit; nil for any other setting.
func unknownTemplate(activationID string, d *activation.Destination, s mapping.Setting, templates []trustpilot.Template) error {
	if s.Value == "" || s.Name != mapping.SettingServiceTemplateID && s.Name != mapping.SettingProductTemplateID {
		return nil
	}
	ids := make([]string, len(templates))
	for i, t := range templates {
		if t.ID == s.Value {
			return nil
		}
		ids[i] = t.ID
	}
	where := ""
	if s.Source == mapping.FromDestination {
		where = fmt.Sprintf(" (set by destination %s %s)", d.Name, s.Path)
	}
	fix := "use one of " + strings.Join(ids, ", ")
	if len(ids) == 0 {
		fix = "it has none"
	}
	return fmt.Errorf("activation %s: %s %s%s is not a template of business unit %s: %s (or remove it to use Trustpilot's default)",
		activationID, s.Name, s.Value, where, d.BusinessUnitID, fix)
}
