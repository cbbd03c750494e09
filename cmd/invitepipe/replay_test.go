package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/testenv"
)

// TestReplay runs `invitepipe replay` against a one-partition topic of 4 rows whose group
// committed 2, step by step: each step's exit code, output and the committed offset after.
func TestReplay(t *testing.T) {
	brokers := testenv.Kafka(t)
	topic, group := testenv.UniqueName(t, "rows"), testenv.UniqueName(t, "group")
	testenv.CreateTopic(t, brokers, topic, 1)
	t.Setenv("INVITEPIPE_KAFKA_BROKERS", strings.Join(brokers, ","))
	t.Setenv("INVITEPIPE_KAFKA_GROUP", "not-this-group")
	t.Setenv("INVITEPIPE_REDIS_URL", testenv.RedisURL(t))
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("a")}, kafka.Message{Value: []byte("b")}, kafka.Message{Value: []byte("c")}, kafka.Message{Value: []byte("d")}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: group, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{topic: {{Partition: 0, Offset: 2}}}}); err != nil {
		t.Fatal(err)
	}
	committed := func() int64 { return testenv.CommittedOffsets(client, group, topic, []int{0})[0] }

	// member joins the group for the step that needs an active group, and leaves after it.
	member := func(t *testing.T) func() {
		cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{ID: group, Brokers: brokers, Topics: []string{topic}, SessionTimeout: 6 * time.Second, HeartbeatInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cg.Next(ctx); err != nil {
			t.Fatalf("the member did not join: %v", err)
		}
		return func() {
			cg.Close()
			testenv.WaitFor(t, 30*time.Second, "the group to be empty", func() bool {
				resp, err := client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
				return err == nil && len(resp.Groups) == 1 && resp.Groups[0].GroupState == "Empty"
			})
		}
	}

	steps := []struct {
		name          string
		args          []string
		active        bool
		wantCode      int
		wantOut       []string
		wantErr       string
		wantCommitted int64
	}{
		{"a bad target names the flag", []string{"--to", "yesterday"}, false, 1, nil, "--to: replay target", 2},
		{"the plan alone changes nothing", []string{"--to", "earliest"}, false, 0, []string{"2 rows read again", "plan only"}, "", 2},
		{"an active group is refused with the command that stops it", []string{"--to", "earliest", "--execute"}, true, 1, nil, "kubectl scale deployment/invitepipe-consumer --replicas=0", 2},
		{"latest over unsent rows is refused", []string{"--to", "latest", "--execute"}, false, 1, []string{"2 rows skipped, 2 of them never sent"}, "partition 0: 2: pick an earlier --to, or add --skip-unsent", 2},
		{"--execute moves the group", []string{"--to", "0:1", "--execute"}, false, 0, []string{"1 rows read again", "done: 1 partition(s) moved"}, "", 1},
		{"--skip-unsent lets latest skip them", []string{"--to", "latest", "--execute", "--skip-unsent"}, false, 0, []string{"3 rows skipped, 3 of them never sent", "done"}, "", 4},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.active {
				defer member(t)()
			}
			var out, errOut bytes.Buffer
			code := run(context.Background(), append([]string{"replay", "--group", group, "--topic", topic}, s.args...), &out, &errOut)
			if code != s.wantCode || !strings.Contains(errOut.String(), s.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d and a stderr with %q\nstdout:\n%s", code, errOut.String(), s.wantCode, s.wantErr, out.String())
			}
			for _, want := range s.wantOut {
				if !strings.Contains(out.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, out.String())
				}
			}
			if got := committed(); got != s.wantCommitted {
				t.Fatalf("committed %d after the step, want %d", got, s.wantCommitted)
			}
		})
	}
}

// TestReplayHintsNameTheManifests: the commands replay suggests stop and start the
// Deployment and the ScaledObject that deploy/kubernetes defines.
func TestReplayHintsNameTheManifests(t *testing.T) {
	for _, m := range []struct{ file, kind, hint string }{
		{"base/deployment.yaml", "kind: Deployment", "deployment/"},
		{"keda/scaledobject.yaml", "kind: ScaledObject", "scaledobject/"},
	} {
		data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", m.file))
		if err != nil {
			t.Fatal(err)
		}
		_, after, ok := strings.Cut(string(data), m.kind+"\nmetadata:\n  name: ")
		if !ok {
			t.Fatalf("%s: no %s with a name", m.file, m.kind)
		}
		name, _, _ := strings.Cut(after, "\n")
		for _, hint := range []string{stopConsumers, startConsumers} {
			if !strings.Contains(hint, m.hint+name+" ") {
				t.Errorf("the hint %q does not name %s%s (%s)", hint, m.hint, name, m.file)
			}
		}
	}
}
