package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/invitepipe/invitepipe/internal/testenv"
)

func TestProgressTo(t *testing.T) {
	file, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { file.Close() })
	tests := []struct {
		name string
		w    io.Writer
		want bool
	}{
		{name: "a buffer is not a terminal", w: &bytes.Buffer{}},
		{name: "a regular file is not a terminal", w: file},
		{name: "no writer", w: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := progressTo(tt.w); (got != nil) != tt.want {
				t.Fatalf("progressTo(%T) = %v, want progress %v", tt.w, got, tt.want)
			}
		})
	}
}

// produceEnv writes an activation file over a csv of orders and points produce at fresh
// Kafka and Redis; it returns a function that runs produce with args.
func produceEnv(t *testing.T, csv string) (id string, run1 func(args ...string) (int, string, string)) {
	t.Helper()
	brokers := testenv.Kafka(t)
	topic := testenv.UniqueName(t, "rows")
	testenv.CreateTopic(t, brokers, topic, 2)
	t.Setenv("INVITEPIPE_KAFKA_BROKERS", strings.Join(brokers, ","))
	t.Setenv("INVITEPIPE_KAFKA_TOPIC", topic)
	t.Setenv("INVITEPIPE_REDIS_URL", testenv.RedisURL(t))
	id = fmt.Sprintf("orders-%08x", rand.Uint32())
	dir := t.TempDir()
	activations := filepath.Join(dir, "activations.yaml")
	file := strings.Replace(checkFile, "id: orders", "id: "+id, 1) + "    source: { type: csv, path: orders.csv }\n"
	if err := os.WriteFile(activations, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "orders.csv"), []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	return id, func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"produce", "--activations", activations}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
}

func TestProduceProgressOnlyOnATerminal(t *testing.T) {
	_, run1 := produceEnv(t, "order_id,name,email\nA-1,Ann,ann@example.com\nA-2,Bo,bo@example.com\n")
	tests := []struct {
		name     string
		terminal bool
		want     bool
	}{
		{name: "not a terminal: no progress output", terminal: false, want: false},
		{name: "a terminal: rows read, rows/s and new rows", terminal: true, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			oldOut, oldIs := progressStderr, isTerminal
			t.Cleanup(func() { progressStderr, isTerminal = oldOut, oldIs })
			progressStderr = &stderr
			if tt.terminal {
				isTerminal = func(io.Writer) bool { return true }
			}
			code, out, errOut := run1("--once", "--dry-run")
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			if got := strings.Contains(stderr.String(), "rows/s"); got != tt.want || !tt.want && stderr.Len() > 0 {
				t.Fatalf("progress output %q, want progress %v", stderr.String(), tt.want)
			}
			if strings.Contains(out+errOut, " new (") {
				t.Fatalf("progress leaked to stdout or stderr:\n%s%s", out, errOut)
			}
		})
	}
}

func TestProduceSinceAndLimit(t *testing.T) {
	id, run1 := produceEnv(t, "order_id,name,email\nA-1,Ann,ann@example.com\nA-2,Bo,bo@example.com\nA-3,Cy,cy@example.com\n")
	// fields: ACTIVATION READ NEW EMITTED ...
	counts := func(out string) string {
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 3 && f[0] == id {
				return strings.Join(f[1:4], " ")
			}
		}
		return ""
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantCounts string // READ NEW EMITTED
		want       string
	}{
		{name: "a bad --since", args: []string{"--once", "--since", "yesterday"}, wantCode: 1, want: `--since "yesterday" is not an RFC 3339 time`},
		{name: "a negative --limit", args: []string{"--once", "--limit", "-1"}, wantCode: 1, want: "--limit -1 is negative"},
		{name: "--limit without --once", args: []string{"--limit", "1"}, wantCode: 1, want: "--since and --limit bound a --once run"},
		{name: "--since in diff mode", args: []string{"--once", "--since", "2024-05-01T00:00:00Z"}, wantCode: 1, want: "--since needs mode: cursor"},
		{name: "--limit 2 emits two", args: []string{"--once", "--limit", "2"}, wantCounts: "3 2 2", want: "the limit stopped the run"},
		{name: "the rest stay new", args: []string{"--once", "--limit", "2"}, wantCounts: "3 1 1", want: "ok"},
		{name: "reset", args: []string{"--reset", "--yes"}, want: "state forgotten"},
		{name: "a backfill slice holds what its limit leaves", args: []string{"--once", "--backfill", "--limit", "1"}, wantCounts: "3 1 1", want: "2 new row(s) are held for the next backfill run"},
		{name: "a scheduled run leaves the held rows", args: []string{"--once"}, wantCounts: "3 0 0", want: "2 row(s) held for a backfill were left to the next backfill run"},
		{name: "the next slice sends them", args: []string{"--once", "--backfill"}, wantCounts: "3 2 2", want: "2 row(s) emitted as a backfill"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run1(tt.args...)
			if code != tt.wantCode || !strings.Contains(out+errOut, tt.want) {
				t.Fatalf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, tt.want, out, errOut)
			}
			if tt.wantCounts != "" {
				if got := counts(out); got != tt.wantCounts {
					t.Fatalf("READ NEW EMITTED = %q, want %q\n%s", got, tt.wantCounts, out)
				}
			}
		})
	}
}
