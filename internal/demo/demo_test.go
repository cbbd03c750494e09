package demo

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/dlq"
	"github.com/invitepipe/invitepipe/internal/producer"
)

var exampleFile = filepath.Join("..", "..", "examples", "activations.yaml")

// expected is what the consumer must make of the example rows, per destination, and
// what the producer must emit, per activation: counted from the CSV itself.
type expected struct {
	emitted, producerDuplicates map[string]int64 // by activation
	dests                       map[string]DestinationSummary
}

// expect counts, for each activation with a source: the distinct primary keys (each
// emitted once; a repeated key is a producer duplicate); among those rows, the ones
// without a name or a valid email (dead-lettered invalid_row); and among the rest, the
// distinct reference numbers per business unit (sent; every further row with one is a
// consumer duplicate).
func expect(t *testing.T, f *activation.File) expected {
	t.Helper()
	e := expected{emitted: map[string]int64{}, producerDuplicates: map[string]int64{}, dests: map[string]DestinationSummary{}}
	sentRefs := map[string]map[string]bool{} // business unit -> references sent
	for i := range f.Activations {
		a := &f.Activations[i]
		spec, err := producer.ParseSpec(a)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := f.Destination(a.Destination)
		if sentRefs[d.BusinessUnitID] == nil {
			sentRefs[d.BusinessUnitID] = map[string]bool{}
		}
		ds := e.dests[d.Name]
		ds.Name = d.Name
		ds.Activations = append(ds.Activations, a.ID)
		if ds.DeadLettered == nil {
			ds.DeadLettered = map[dlq.Class]int64{}
		}
		keys := map[string]bool{}
		for _, row := range readCSV(t, filepath.Join(filepath.Dir(exampleFile), spec.Path)) {
			if keys[row[spec.PrimaryKey]] {
				e.producerDuplicates[a.ID]++
				continue
			}
			keys[row[spec.PrimaryKey]] = true
			e.emitted[a.ID]++
			ds.Rows++
			ref := row[a.Mapping.ReferenceNumber]
			switch {
			case row[a.Mapping.ConsumerName] == "" || !activation.ValidEmail(row[a.Mapping.ConsumerEmail]):
				ds.DeadLettered[dlq.InvalidRow]++
			case sentRefs[d.BusinessUnitID][ref]:
				ds.Duplicates++
			default:
				sentRefs[d.BusinessUnitID][ref] = true
				ds.Sent++
			}
		}
		e.dests[d.Name] = ds
	}
	return e
}

// readCSV returns the rows of a CSV file with a header, by column name.
func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	records, err := csv.NewReader(file).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]string
	for _, rec := range records[1:] {
		row := map[string]string{}
		for i, col := range records[0] {
			row[col] = rec[i]
		}
		rows = append(rows, row)
	}
	return rows
}

func defaults(t *testing.T) (config.Consumer, config.Production) {
	t.Helper()
	var cfg config.Demo
	if err := config.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	return cfg.Consumer, cfg.Production
}

// TestDemoExampleSummary runs the demo on the example files, all parts embedded, with
// the brand destination throttled for a second, and checks the summary against the
// counts of the CSV.
func TestDemoExampleSummary(t *testing.T) {
	f, err := activation.Load(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	want := expect(t, f)
	// The example data must keep exercising every outcome.
	for _, d := range want.dests {
		if d.Sent == 0 || d.Duplicates == 0 || d.DeadLettered[dlq.InvalidRow] == 0 {
			t.Fatalf("examples: destination %s lacks an outcome (sent, duplicates, invalid rows): %+v", d.Name, d)
		}
	}

	cons, prod := defaults(t)
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sum, err := Run(ctx, Options{
		Activations: exampleFile,
		Consumer:    cons,
		Production:  prod,
		SandboxAddr: "127.0.0.1:0",
		Throttle:    Throttle{Destination: "brand", For: time.Second},
		Timeout:     time.Minute,
		Out:         &out,
		Log:         zerolog.Nop(),
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}

	for _, p := range sum.Producer {
		if p.Emitted != want.emitted[p.Activation] || p.Duplicates != want.producerDuplicates[p.Activation] || p.Invalid != 0 {
			t.Errorf("producer %s: emitted %d, duplicates %d, invalid %d; want %d, %d, 0",
				p.Activation, p.Emitted, p.Duplicates, p.Invalid, want.emitted[p.Activation], want.producerDuplicates[p.Activation])
		}
	}
	if len(sum.Destinations) != len(want.dests) {
		t.Fatalf("summary has %d destinations, want %d", len(sum.Destinations), len(want.dests))
	}
	for _, got := range sum.Destinations {
		w := want.dests[got.Name]
		if got.Rows != w.Rows || got.Sent != w.Sent || got.Duplicates != w.Duplicates ||
			strings.Join(got.Activations, ",") != strings.Join(w.Activations, ",") || !sameCounts(got.DeadLettered, w.DeadLettered) {
			t.Errorf("destination %s: got rows %d, sent %d, duplicates %d, dead-lettered %v, activations %v\nwant rows %d, sent %d, duplicates %d, dead-lettered %v, activations %v",
				got.Name, got.Rows, got.Sent, got.Duplicates, got.DeadLettered, got.Activations, w.Rows, w.Sent, w.Duplicates, w.DeadLettered, w.Activations)
		}
		// No invitation twice: the sandbox holds exactly what the consumer counts as sent.
		if got.Recorded != int(got.Sent) {
			t.Errorf("destination %s: the sandbox recorded %d invitations, the consumer sent %d", got.Name, got.Recorded, got.Sent)
		}
		if throttled := got.Name == "brand"; throttled != (got.Throttled > 0) {
			t.Errorf("destination %s: %d 429 answers; want some only for the throttled destination brand", got.Name, got.Throttled)
		}
	}
	text := out.String()
	for _, s := range []string{"Consumer: the outcome of every row per destination", "DEAD-LETTERED INVALID_ROW", "Invitation history (the sandbox): " + sum.HistoryURL} {
		if !strings.Contains(text, s) {
			t.Errorf("output lacks %q:\n%s", s, text)
		}
	}
	if !strings.HasPrefix(sum.HistoryURL, "http://127.0.0.1:") {
		t.Errorf("history URL %q, want the sandbox's on loopback", sum.HistoryURL)
	}
}

func sameCounts(a, b map[dlq.Class]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestDemoBadOptions: options that cannot work are refused before anything starts,
// naming what to fix.
func TestDemoBadOptions(t *testing.T) {
	cons, prod := defaults(t)
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"unknown throttled destination", Options{Activations: exampleFile, Throttle: Throttle{Destination: "outlet", For: time.Second}}, `throttle: no destination "outlet" in the activation file (destinations: shop, brand)`},
		{"missing activation file", Options{Activations: filepath.Join(t.TempDir(), "none.yaml")}, "none.yaml"},
		{"no partitions", Options{Activations: exampleFile, Partitions: -1}, "partitions -1: use 1 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Consumer, tt.opts.Production, tt.opts.Log = cons, prod, zerolog.Nop()
			_, err := Run(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run: %v, want an error containing %q", err, tt.wantErr)
			}
			if errors.Is(err, ErrIncomplete) {
				t.Fatalf("Run started the pipeline: %v", err)
			}
		})
	}
}
