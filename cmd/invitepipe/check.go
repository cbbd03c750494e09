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

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/destination"
	"github.com/invitepipe/invitepipe/internal/mapping"
	"github.com/invitepipe/invitepipe/internal/row"
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

// describe prints what the file configures.
func describe(w io.Writer, path string, f *activation.File) {
	fmt.Fprintf(w, "%s is valid: %d destination(s), %d activation(s)\n", path, len(f.Destinations), len(f.Activations))
	for _, d := range f.Destinations {
		fmt.Fprintf(w, "  destination %s: business unit %s, at most %d calls per 5 min and %d per hour\n",
			d.Name, d.BusinessUnitID, d.RateLimit.Per5Min, d.RateLimit.PerHour)
	}
	for _, a := range f.Activations {
		fmt.Fprintf(w, "  activation %s -> %s: %s invitations\n", a.ID, a.Destination, a.InvitationType)
	}
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
	mappers := map[string]*mapping.Mapper{}
	for i := range f.Activations {
		a := &f.Activations[i]
		d, _ := f.Destination(a.Destination)
		mappers[a.ID] = mapping.New(a, d)
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), row.MaxMessageBytes+1)
	bad := 0
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		out, err := previewRow(sc.Bytes(), mappers)
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

func previewRow(value []byte, mappers map[string]*mapping.Mapper) (string, error) {
	msg, err := row.Decode(value)
	if err != nil {
		return "", fmt.Errorf("malformed: %w", err)
	}
	m, ok := mappers[msg.Activation]
	if !ok {
		return "", fmt.Errorf("unknown_activation: %q is not an activation of the file", msg.Activation)
	}
	inv, err := m.Map(msg.Row)
	if err != nil {
		return "", fmt.Errorf("invalid_row: %w", err)
	}
	b, err := json.Marshal(inv)
	return msg.Activation + "/" + msg.RowID + " -> " + string(b), err
}

// checkOnline mints a token for each destination and lists its templates, which proves
// the credentials, the business user and the business unit id.
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
	for _, name := range names {
		d := dests[name]
		templates, err := d.Client.ListTemplates(ctx, d.BusinessUnitID)
		if err != nil {
			errs = append(errs, fmt.Errorf("destination %s: %w", name, err))
			fmt.Fprintf(w, "  destination %s: FAILED: %v\n", name, err)
			continue
		}
		fmt.Fprintf(w, "  destination %s: credentials accepted; %d template(s):", name, len(templates))
		for _, t := range templates {
			fmt.Fprintf(w, " %s (%s, %s)", t.ID, t.Name, t.Locale)
		}
		fmt.Fprintln(w)
	}
	return errors.Join(errs...)
}
