package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/dlq"
)

// TestDLQRedriveOfFixedRowsSendsEachOnce: rows dead-lettered because of the activation
// file (an activation it lacks, a mapping naming the wrong column) are redriven once the
// file is fixed and the consumer restarted, and each becomes exactly one invitation; a
// second redrive of the same records sends nothing more (the ledger's duplicates), and
// the rows that were fine all along are never sent again.
func TestDLQRedriveOfFixedRowsSendsEachOnce(t *testing.T) {
	s := newStack(t, stackOptions{})
	original, err := os.ReadFile(s.activations)
	if err != nil {
		t.Fatal(err)
	}
	// "legacy" reads the consumer's name from "name", but its rows call it "customer":
	// every one is invalid_row. "late" is not in the file: unknown_activation.
	legacy := func(nameColumn string) string {
		return fmt.Sprintf("  - id: legacy\n    destination: %s\n    invitation_type: service\n    mapping: { consumer_name: %s, consumer_email: email, reference_number: order_id }\n", s.destination, nameColumn)
	}
	writeFile(t, s.activations, string(original)+legacy("name"))

	const n = 15
	var recs []record
	want := map[string]bool{} // every reference, sent exactly once in the end
	for i := range n {
		for _, r := range []struct{ act, ref, name string }{
			{"svc", fmt.Sprintf("OK-%03d", i), "name"},
			{"legacy", fmt.Sprintf("LEG-%03d", i), "customer"},
			{"late", fmt.Sprintf("LATE-%03d", i), "name"},
		} {
			rowID := strings.ToLower(r.ref)
			recs = append(recs, record{key: r.act + "/" + rowID, value: fmt.Sprintf(
				`{"activation":%q,"row_id":%q,"row":{"order_id":%q,%q:"Name %d","email":"%s@example.com"}}`, r.act, rowID, r.ref, r.name, i, rowID)})
			want[r.ref] = true
		}
	}
	ends := s.produce(recs)
	a := s.start("a")
	s.waitCommitted(ends, 60*time.Second)
	classes := map[dlq.Class]int{}
	for _, r := range s.deadLetters(2*n, 30*time.Second) {
		classes[r.Class]++
	}
	if classes[dlq.InvalidRow] != n || classes[dlq.UnknownActivation] != n {
		t.Fatalf("dead letters by class %v, want %d invalid_row and %d unknown_activation", classes, n, n)
	}
	if got := len(s.sent()); got != n {
		t.Fatalf("%d references sent before the fix, want the %d valid ones", got, n)
	}
	a.stopGracefully(30 * time.Second)

	// The fix: the right column for legacy, and the missing activation.
	writeFile(t, s.activations, string(original)+legacy("customer")+
		fmt.Sprintf("  - id: late\n    destination: %s\n    invitation_type: service\n    mapping: { consumer_name: name, consumer_email: email, reference_number: order_id }\n", s.destination))
	out := s.cli(t, "dlq", "list")
	for _, line := range []string{
		fmt.Sprintf("unknown_activation late %s %d", s.destination, n),
		fmt.Sprintf("invalid_row legacy %s %d", s.destination, n),
	} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), line) {
			t.Errorf("dlq list lacks %q:\n%s", line, out)
		}
	}
	s.start("b")
	for round := 1; round <= 2; round++ {
		out := s.cli(t, "dlq", "redrive", "--class", "unknown_activation,invalid_row", "--execute")
		if !regexp.MustCompile(`redrive-\S+: 0 ledger mark\(s\) cleared, 30 row\(s\) republished`).MatchString(out) {
			t.Fatalf("redrive round %d:\n%s", round, out)
		}
		s.waitCommitted(s.ends(), 60*time.Second)
	}

	sent := s.sent()
	for ref := range want {
		if len(sent[ref]) != 1 {
			t.Errorf("reference %s sent %d times, want once", ref, len(sent[ref]))
		}
	}
	if len(sent) != len(want) {
		t.Errorf("%d references sent, want %d", len(sent), len(want))
	}
	if got := s.dlqCount(); got != 2*n {
		t.Errorf("the DLQ holds %d records after the redrives, want the %d first ones (nothing failed again)", got, 2*n)
	}
}

// cli runs the invitepipe binary with the stack's environment and returns its output;
// a non-zero exit fails the test.
func (s *stack) cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = os.Environ()
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("invitepipe %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
