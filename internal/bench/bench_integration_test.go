package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/invitepipe/invitepipe/internal/bench"
	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/sandbox"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// TestBenchIsCorrect runs the bench at a small size against the real Kafka and Redis and
// asserts correctness only, never a timing: every valid row accepted once, no
// duplicate at the sandbox, every bad row dead-lettered, and a JSON report with its
// fields.
func TestBenchIsCorrect(t *testing.T) {
	brokers, redisURL := testenv.Kafka(t), testenv.RedisURL(t)
	for _, tc := range []struct {
		name      string
		processes int
		faults    map[sandbox.FaultKind]float64
		replay    bool // and a replay pass
	}{
		{name: "consumer in process, 503s to retry", processes: 0, faults: map[sandbox.FaultKind]float64{sandbox.Fault503: 0.05}},
		{name: "two consumer processes, then a replay", processes: 2, replay: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := bench.Options{
				Rows: 500, Destinations: 3, Activations: 3, Mix: bench.DefaultMix,
				DuplicateRatio: 0.05, BadRatio: 0.02, Partitions: 3, Processes: tc.processes,
				LatencyMin: time.Millisecond, LatencyMax: 5 * time.Millisecond, Faults: tc.faults,
				Kafka: brokers, Redis: redisURL, Consumer: consumerConfig(t),
				Timeout: 2 * time.Minute, Dir: t.TempDir(), Log: zerolog.Nop(), Replay: tc.replay,
			}
			if tc.processes > 0 {
				o.Command = []string{buildInvitepipe(t), "consume"}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			rep, err := bench.Run(ctx, o)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			c := rep.Correctness
			if !rep.Correct || c.Accepted != c.ExpectedAccepted || c.SandboxDuplicates != 0 || c.DeadLettered != int64(c.ExpectedDeadLetters) {
				t.Fatalf("correctness %+v (correct %t)", c, rep.Correct)
			}
			if want := 500 - 25 - 10; c.ExpectedAccepted != want || c.ExpectedDeadLetters != 10 || rep.Rows.Duplicates != 25 {
				t.Fatalf("rows %+v, correctness %+v: want %d valid, 25 duplicates, 10 bad", rep.Rows, c, want)
			}
			if consumers := countParts(rep, "invitepipe consume"); consumers != tc.processes {
				t.Fatalf("%d consumer parts, want %d: %+v", consumers, tc.processes, rep.Parts)
			}
			checkJSON(t, rep, tc.processes == 0)
			switch rp := rep.Replay; {
			case !tc.replay && rp != nil:
				t.Fatalf("a replay pass without Options.Replay: %+v", rp)
			case tc.replay && (rp == nil || rp.NewInvitations != 0 || rp.Rows != int64(rep.Rows.Written) || rp.DeadLettered != int64(rep.Rows.Bad)):
				t.Fatalf("replay pass %+v; want all %d rows read again, the %d bad ones dead-lettered again, and no new invitation", rp, rep.Rows.Written, rep.Rows.Bad)
			}
		})
	}
}

// consumerConfig is the consumer's configuration from its defaults, with retries fast
// enough for a test.
func consumerConfig(t *testing.T) config.Consumer {
	t.Helper()
	var cfg config.Consumer
	if err := config.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	cfg.RetryBackoff, cfg.RetryBackoffMax = 10*time.Millisecond, 100*time.Millisecond
	return cfg
}

func countParts(rep *bench.Report, runs string) int {
	n := 0
	for _, p := range rep.Parts {
		if p.Runs == runs {
			n++
		}
	}
	return n
}

// checkJSON checks the JSON report holds the fields the issue asks for.
func checkJSON(t *testing.T, rep *bench.Report, inProcess bool) {
	t.Helper()
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, path := range [][]string{
		{"invitations", "per_second_mean"}, {"row_to_accept_latency_ms", "p50"}, {"row_to_accept_latency_ms", "p99"},
		{"correctness", "sandbox_duplicates"}, {"redis", "server_commands_per_invitation"}, {"series"}, {"parts"},
	} {
		var v any = doc
		for _, key := range path {
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("JSON report: %v is not an object", path)
			}
			v = m[key]
		}
		if v == nil {
			t.Fatalf("JSON report has no %v:\n%s", path, buf.String())
		}
	}
	// Every invitation takes a reservation and a confirmation; batching may carry many
	// of them per command and pipelining many commands per round trip, but not none.
	if rp, cp := rep.Redis.ClientRoundTripsPerInvitation, rep.Redis.ClientCommandsPerInvitation; inProcess && (rp == nil || *rp <= 0 || cp == nil || *cp <= 0) {
		t.Fatalf("in-process consumer: Redis round trips per invitation %s, commands %s; want some of each", orNil(rp), orNil(cp))
	}
	for _, p := range rep.Parts {
		if p.Note == "" && p.PID != 0 && p.CPUPer1000 <= 0 && p.Window == "process life" {
			t.Fatalf("consumer process %+v has no CPU time", p)
		}
	}
}

// buildInvitepipe builds the invitepipe binary for the consumer processes.
func buildInvitepipe(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "invitepipe")
	build := exec.Command("go", "build", "-o", bin, "github.com/invitepipe/invitepipe/cmd/invitepipe")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("building invitepipe: %v", err)
	}
	return bin
}

// orNil formats a report's optional number.
func orNil(v *float64) string {
	if v == nil {
		return "nil"
	}
	return strconv.FormatFloat(*v, 'g', 4, 64)
}
