package deliver

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/dlq"
	"github.com/invitepipe/invitepipe/internal/sandbox"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// A redriven row that fails again is dead-lettered with the redrive's header, once, and
// with its other original headers, so the operator recognises it.
func TestRedrivenRowFailingAgainKeepsTheRedriveHeader(t *testing.T) {
	tests := []struct {
		name   string
		value  string // empty: a valid row that Trustpilot rejects
		forced int
		class  dlq.Class
	}{
		{name: "still invalid", value: `{"activation":"svc","row_id":"1","row":{"order_id":"A#1","name":"N","email":"n@example.com"}}`, class: dlq.InvalidRow},
		{name: "rejected again", forced: 400, class: dlq.Rejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, testenv.RedisClient(t), time.Minute, 0)
			dead := &recordedDeadLetters{}
			fx.h.dead = dead
			if tt.forced != 0 {
				bu := fx.h.activations["svc"].dest.BusinessUnitID
				if err := fx.sandbox.SetFaults(sandbox.Faults{Forced: map[string]sandbox.ForcedStatus{bu: {Status: tt.forced}}}); err != nil {
					t.Fatal(err)
				}
			}
			orig := rowMessage("R-1", 7)
			if tt.value != "" {
				orig.Value = []byte(tt.value)
			}
			orig.Headers = []kafka.Header{{Key: "traceparent", Value: []byte("00-abc")}}
			// The first dead letter, as the DLQ topic holds it, redriven.
			first, err := dlq.Parse(dlq.Record{Class: tt.class, Reason: "first", FailedAt: time.Now(), Source: orig}.Message())
			if err != nil {
				t.Fatal(err)
			}
			redriven := first.Redriven("redrive-20261130T170000Z-abcdef")
			redriven.Offset = 12

			if err := settle(t, fx.h, context.Background(), context.Background(), redriven, nil); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			got := dead.records()
			if len(got) != 1 || got[0].Class != tt.class {
				t.Fatalf("dead letters %+v, want one of class %s", got, tt.class)
			}
			second, err := dlq.Parse(got[0].Message())
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"traceparent": "00-abc", dlq.HeaderRedrive: "redrive-20261130T170000Z-abcdef"}
			if len(second.Source.Headers) != len(want) {
				t.Fatalf("second dead letter's original headers %v, want %v", second.Source.Headers, want)
			}
			for _, h := range second.Source.Headers {
				if want[h.Key] != string(h.Value) {
					t.Errorf("header %s = %q, want %q", h.Key, h.Value, want[h.Key])
				}
			}
			if second.Source.Offset != 12 || string(second.Source.Value) != string(orig.Value) {
				t.Errorf("second dead letter %+v: want source offset 12 and the original value", second)
			}
		})
	}
}
