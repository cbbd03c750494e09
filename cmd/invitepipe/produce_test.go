package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/invitepipe/invitepipe/internal/testenv"
)

func TestProduce(t *testing.T) {
	brokers := testenv.Kafka(t)
	redisURL := testenv.RedisURL(t)
	topic := testenv.UniqueName(t, "rows")
	testenv.CreateTopic(t, brokers, topic, 2)
	t.Setenv("INVITEPIPE_KAFKA_BROKERS", strings.Join(brokers, ","))
	t.Setenv("INVITEPIPE_KAFKA_TOPIC", topic)
	t.Setenv("INVITEPIPE_REDIS_URL", redisURL)

	id := fmt.Sprintf("orders-%08x", rand.Uint32())
	dir := t.TempDir()
	activations := filepath.Join(dir, "activations.yaml")
	file := strings.Replace(checkFile, "id: orders", "id: "+id, 1) +
		"    source: { type: csv, path: data/orders.csv }\n" +
		"  - id: no-source\n    destination: shop\n    invitation_type: service\n    mapping: { consumer_name: name, consumer_email: email, reference_number: order_id }\n"
	if err := os.WriteFile(activations, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeCSV := func(content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "data", "orders.csv"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeCSV("order_id,name,email\nA-1,Ann,ann@example.com\nA-2,Bo,bo@example.com\nA-2,Bo,bo@example.com\nbroken\n")

	run1 := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"produce", "--activations", activations}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	// fields: ACTIVATION READ NEW EMITTED INVALID DUPLICATES SKIPPED HELD DURATION ROWS/S RESULT
	line := func(out string) []string {
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == id {
				return f
			}
		}
		t.Fatalf("no summary line for %s in:\n%s", id, out)
		return nil
	}
	tests := []struct {
		name      string
		args      []string
		csv       string
		wantCode  int
		wantCount []string // READ NEW EMITTED INVALID DUPLICATES, when a summary is expected
		want      string   // substring of stdout or stderr
	}{
		{name: "without --once and no schedule", wantCode: 1, want: "no activation with a source has a schedule: add one (e.g. schedule: 15m)"},
		{name: "reset without --yes", args: []string{"--reset"}, wantCode: 1, want: "add --yes to confirm"},
		{name: "unknown activation", args: []string{"--once", "--activation", "nope"}, wantCode: 1, want: "--activation nope: no such activation"},
		{name: "activation without a source", args: []string{"--once", "--activation", "no-source"}, wantCode: 1, want: "--activation no-source: the activation has no source block"},
		{name: "dry run", args: []string{"--once", "--dry-run"}, wantCode: 0, wantCount: []string{"4", "2", "0", "1", "1"}, want: "orders.csv: line 5, column 2"},
		{name: "first run", args: []string{"--once"}, wantCode: 0, wantCount: []string{"4", "2", "2", "1", "1"}, want: "line 5, column 2: 1 fields, the header has 3"},
		{name: "second run with a new row", args: []string{"--once", "--activation", id}, csv: "order_id,name,email\nA-1,Ann,ann@example.com\nA-2,Bo,bo@example.com\nA-3,Cy,cy@example.com\n", wantCode: 0, wantCount: []string{"3", "1", "1", "0", "0"}, want: "ok"},
		{name: "third run emits nothing", args: []string{"--once"}, wantCode: 0, wantCount: []string{"3", "0", "0", "0", "0"}, want: "ok"},
		{name: "reset", args: []string{"--reset", "--yes"}, wantCode: 0, want: id + ": state forgotten"},
		{name: "run after reset emits every row", args: []string{"--once"}, wantCode: 0, wantCount: []string{"3", "3", "3", "0", "0"}, want: "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.csv != "" {
				writeCSV(tt.csv)
			}
			code, out, errOut := run1(tt.args...)
			if code != tt.wantCode || !strings.Contains(out+errOut, tt.want) {
				t.Fatalf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, tt.want, out, errOut)
			}
			if tt.wantCount != nil {
				if got := line(out)[1:6]; strings.Join(got, " ") != strings.Join(tt.wantCount, " ") {
					t.Fatalf("READ NEW EMITTED INVALID DUPLICATES = %v, want %v\n%s", got, tt.wantCount, out)
				}
			}
		})
	}
}

func TestProduceHelpListsFlagsAndVariables(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"produce", "--help"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"-once", "-dry-run", "-reset", "-activation", "INVITEPIPE_PRODUCER_BATCH_SIZE", "INVITEPIPE_PRODUCER_LOCK_LEASE", "INVITEPIPE_REDIS_URL", "INVITEPIPE_KAFKA_TOPIC"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %s:\n%s", want, out.String())
		}
	}
}
