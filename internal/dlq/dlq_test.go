package dlq

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func TestMessageKeepsBytesAndRoundTrips(t *testing.T) {
	value := []byte("{\"activation\":\"orders-service\",\"row_id\":\"A-1\" , \"row\":{}}\n") // odd spacing kept as is
	src := kafka.Message{
		Topic: "invitepipe.rows", Partition: 2, Offset: 1841,
		Key: []byte("orders-service/A-1"), Value: value,
		Headers: []kafka.Header{{Key: "traceparent", Value: []byte("00-abc")}, {Key: HeaderClass, Value: []byte("rejected")}},
	}
	failed := time.Date(2026, 11, 25, 10, 0, 3, 0, time.UTC)
	rec := Record{Class: InvalidRow, Reason: `mapping.consumer_email: "b***@example" is not an email address`, Attempts: 0, FailedAt: failed, Source: src}
	m := rec.Message()
	if !bytes.Equal(m.Key, src.Key) || !bytes.Equal(m.Value, src.Value) {
		t.Fatalf("key/value changed: %q %q", m.Key, m.Value)
	}
	want := map[string]string{
		HeaderClass: "invalid_row", HeaderError: rec.Reason, HeaderAttempts: "0",
		HeaderSourceTopic: "invitepipe.rows", HeaderSourcePartition: "2", HeaderSourceOffset: "1841",
		HeaderFailedAt: "2026-11-25T10:00:03Z", "traceparent": "00-abc",
	}
	if len(m.Headers) != len(want) {
		t.Fatalf("headers %v: want %d (an old class header replaced, not repeated)", m.Headers, len(want))
	}
	for _, h := range m.Headers {
		if want[h.Key] != string(h.Value) {
			t.Errorf("header %s = %q, want %q", h.Key, h.Value, want[h.Key])
		}
	}
	got, err := Parse(m)
	if err != nil {
		t.Fatal(err)
	}
	if got.Class != rec.Class || got.Reason != rec.Reason || !got.FailedAt.Equal(failed) ||
		got.Source.Topic != src.Topic || got.Source.Partition != 2 || got.Source.Offset != 1841 ||
		len(got.Source.Headers) != 1 || got.Source.Headers[0].Key != "traceparent" {
		t.Errorf("Parse = %+v", got)
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name    string
		headers []kafka.Header
		want    string
	}{
		{"not a dead-letter record", nil, "no invitepipe-error-class header"},
		{"bad offset", []kafka.Header{{Key: HeaderClass, Value: []byte("rejected")}, {Key: HeaderSourceOffset, Value: []byte("x")}}, "invitepipe-source-offset"},
		{"bad time", []kafka.Header{{Key: HeaderClass, Value: []byte("rejected")}, {Key: HeaderFailedAt, Value: []byte("yesterday")}}, "invitepipe-failed-at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(kafka.Message{Headers: tt.headers})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	s := Describe(Record{Class: Rejected, Reason: "400 invalid locale", Attempts: 1, Source: kafka.Message{Key: []byte("k"), Value: []byte("v")}})
	for _, want := range []string{"key:    k\n", "value:  v\n", "invitepipe-error-class:", "rejected", "invitepipe-attempts:"} {
		if !strings.Contains(s, want) {
			t.Errorf("Describe lacks %q:\n%s", want, s)
		}
	}
}
