package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProducerToConsumer runs the real `invitepipe produce --once` three times over a
// growing CSV file (200 rows, then 250, then the same 250) while a consumer runs: each
// run emits only the new rows, and the sandbox accepts each row's invitation exactly once.
func TestProducerToConsumer(t *testing.T) {
	s, id, writeCSV := csvStack(t, unlimited)
	s.start("a")
	want := map[string]string{}
	runs := []struct{ rows, wantNew int }{{200, 200}, {250, 50}, {250, 0}}
	for i, r := range runs {
		writeCSV(r.rows, want)
		sum := s.produceOnce(id)
		if sum.read != r.rows || sum.new != r.wantNew || sum.emitted != r.wantNew || sum.invalid != 0 || sum.duplicates != 0 || sum.result != "ok" {
			t.Fatalf("run %d over %d rows: summary %+v; want read %d, new and emitted %d, no invalid or duplicate, ok", i+1, r.rows, sum, r.rows, r.wantNew)
		}
		ends := s.ends()
		var total int64
		for _, end := range ends {
			total += end
		}
		if total != int64(r.rows) {
			t.Fatalf("run %d: the rows topic holds %d messages, want %d (each row emitted once)", i+1, total, r.rows)
		}
		s.waitCommitted(ends, 60*time.Second)
		waitFor(t, 30*time.Second, fmt.Sprintf("run %d: %d invitations accepted", i+1, r.rows), func() bool {
			return len(s.sandbox.Invitations(s.businessUnit, "")) >= r.rows
		})
		checkProducedSentOnce(t, s, want)
		t.Logf("run %d: %d rows, %d new; %d invitations sent once each, commits at %v", i+1, r.rows, sum.new, len(want), ends)
	}
}

// TestBackfillWaitsForFreshRows emits 60 rows with `produce --once --backfill` for a
// destination whose budget is 10 calls per 2s, then, while they are being sent, 20 fresh
// rows with a plain run: the fresh rows are all sent before any more of the backfill's
// (only calls that took their slot before the first fresh row asked may land among
// them), and every row is sent once.
func TestBackfillWaitsForFreshRows(t *testing.T) {
	s, id, writeCSV := csvStack(t, budgetYAML(10, 2*time.Second))
	s.start("a")
	want := map[string]string{}
	writeCSV(60, want)
	if sum := s.produceOnce(id, "--backfill"); sum.emitted != 60 {
		t.Fatalf("backfill run: %+v; want 60 rows emitted", sum)
	}
	waitFor(t, 60*time.Second, "the backfill under way", func() bool { return len(s.sandbox.Invitations(s.businessUnit, "")) >= 10 })
	writeCSV(80, want)
	if sum := s.produceOnce(id); sum.emitted != 20 {
		t.Fatalf("fresh run: %+v; want 20 rows emitted", sum)
	}
	waitFor(t, 120*time.Second, "every row sent", func() bool { return len(s.sandbox.Invitations(s.businessUnit, "")) >= 80 })
	checkProducedSentOnce(t, s, want)

	// In acceptance order: F for a fresh row (P-000061 and later), B for a backfill row.
	var order strings.Builder
	for _, inv := range s.sandbox.Invitations(s.businessUnit, "") {
		if inv.ReferenceNumber > "P-000060" {
			order.WriteByte('F')
		} else {
			order.WriteByte('B')
		}
	}
	seq := order.String()
	first, last := strings.IndexByte(seq, 'F'), strings.LastIndexByte(seq, 'F')
	t.Logf("acceptance order: %s", seq)
	if among := strings.Count(seq[first:last], "B"); among > 0 {
		t.Errorf("%d backfill row(s) were sent among the fresh rows; want fresh rows first", among)
	}
	if strings.Count(seq[last:], "B") == 0 {
		t.Fatalf("the backfill was over before the fresh rows were sent: the test shows nothing; make the backfill longer")
	}
}

// csvStack returns a stack (not started) whose one activation, id, reads
// data/orders.csv of a temporary directory, with the destination's rate_limit
// rateLimit, and writeCSV, which writes that file with rows P-000001 ... P-<n> and
// records each row's wanted invitation body in want.
func csvStack(t *testing.T, rateLimit string) (s *stack, id string, writeCSV func(n int, want map[string]string)) {
	s = newStack(t, stackOptions{})
	// The producer's state is keyed by activation id in the shared Redis: unique per test.
	id = fmt.Sprintf("csv-%08x", rand.Uint32())
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	file := fmt.Sprintf(`
destinations:
  - name: %s
    business_unit_id: %s
    credentials: { api_key_env: TP_KEY, api_secret_env: TP_SECRET, business_user_id_env: TP_USER }
    rate_limit: %s
    defaults:
      service_template_id: tmpl-service
      sender_name: Shop
activations:
  - id: %s
    destination: %s
    invitation_type: service
    service: { redirect_uri: "https://shop.example/thanks" }
    mapping: { consumer_name: name, consumer_email: email, reference_number: order_id }
    source: { type: csv, path: data/orders.csv }
`, s.destination, s.businessUnit, rateLimit, id, s.destination)
	activations := filepath.Join(dir, "activations.yaml")
	if err := os.WriteFile(activations, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	s.env["INVITEPIPE_ACTIVATIONS"] = activations
	writeCSV = func(n int, want map[string]string) {
		t.Helper()
		var b strings.Builder
		b.WriteString("order_id,name,email\n")
		for i := 1; i <= n; i++ {
			ref := fmt.Sprintf("P-%06d", i)
			email := fmt.Sprintf("p.%d@example.com", i)
			fmt.Fprintf(&b, "%s,Name %d,%s\n", ref, i, email)
			want[ref] = fmt.Sprintf(`{"consumerEmail":%q,"consumerName":"Name %d","referenceNumber":%q,"senderName":"Shop","type":"email","serviceReviewInvitation":{"templateId":"tmpl-service","redirectUri":"https://shop.example/thanks"}}`, email, i, ref)
		}
		if err := os.WriteFile(filepath.Join(dir, "data", "orders.csv"), []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return s, id, writeCSV
}

// produceSummary is one activation's line of a `produce --once` summary.
type produceSummary struct {
	read, new, emitted, invalid, duplicates, skipped int
	result                                           string
}

// produceOnce runs `invitepipe produce --once --activation id` (and flags) with the
// stack's environment and returns the activation's summary line; it fails the test if the
// run fails.
func (s *stack) produceOnce(id string, flags ...string) produceSummary {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"produce", "--once", "--activation", id}, flags...)...)
	cmd.Env = os.Environ()
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("produce --once: %v\n%s", err, out.String())
	}
	// ACTIVATION READ NEW EMITTED INVALID DUPLICATES SKIPPED HELD DURATION ROWS/S RESULT
	for _, l := range strings.Split(out.String(), "\n") {
		f := strings.Fields(l)
		if len(f) != 11 || f[0] != id {
			continue
		}
		n := make([]int, 6)
		for i := range n {
			v, err := strconv.Atoi(f[1+i])
			if err != nil {
				s.t.Fatalf("summary line %q: column %d: %v", l, 2+i, err)
			}
			n[i] = v
		}
		return produceSummary{read: n[0], new: n[1], emitted: n[2], invalid: n[3], duplicates: n[4], skipped: n[5], result: f[10]}
	}
	s.t.Fatalf("no summary line for %s in:\n%s", id, out.String())
	return produceSummary{}
}

// checkProducedSentOnce asserts that the sandbox accepted exactly one invitation per
// wanted reference of the stack's business unit, with the wanted body, and nothing else.
func checkProducedSentOnce(t *testing.T, s *stack, want map[string]string) {
	t.Helper()
	sent := s.sent()
	bad := 0
	for ref, body := range want {
		got := sent[ref]
		switch {
		case len(got) != 1:
			if bad++; bad <= 5 {
				t.Errorf("reference %s was sent %d times, want once", ref, len(got))
			}
		case !sameJSON(got[0].Body, body):
			if bad++; bad <= 5 {
				t.Errorf("reference %s: body\n%s\nwant\n%s", ref, got[0].Body, body)
			}
		}
	}
	for ref := range sent {
		if _, ok := want[ref]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("the sandbox got reference %s, which no row has", ref)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d references not sent exactly once as wanted", bad, len(want))
	}
	if st := s.sandbox.Stats(); st.DuplicateReferences != 0 {
		t.Fatalf("the sandbox saw %d duplicate references", st.DuplicateReferences)
	}
}
