package dlq

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/kafkaconn"
)

// Class says why a record was dead-lettered.
type Class string

// The error classes of schemas/dlq.v1.md.
const (
	Malformed         Class = "malformed"
	UnknownActivation Class = "unknown_activation"
	InvalidRow        Class = "invalid_row"
	Rejected          Class = "rejected"
	RetriesExhausted  Class = "retries_exhausted"
	UnknownOutcome    Class = "unknown_outcome"
	// DeferredExpired: waited for its destination longer than INVITEPIPE_DEFER_MAX_AGE;
	// dead-lettered before Kafka's retention could delete it.
	DeferredExpired Class = "deferred_expired"
	// Stale: older than its activation's max_age when its turn came; never sent late.
	Stale Class = "stale"
)

// Header names of schemas/dlq.v1.md.
const (
	HeaderClass           = "invitepipe-error-class"
	HeaderError           = "invitepipe-error"
	HeaderAttempts        = "invitepipe-attempts"
	HeaderSourceTopic     = "invitepipe-source-topic"
	HeaderSourcePartition = "invitepipe-source-partition"
	HeaderSourceOffset    = "invitepipe-source-offset"
	HeaderFailedAt        = "invitepipe-failed-at"
)

var ownHeaders = []string{HeaderClass, HeaderError, HeaderAttempts, HeaderSourceTopic, HeaderSourcePartition, HeaderSourceOffset, HeaderFailedAt}

// Record is one dead-lettered message and why.
type Record struct {
	Class    Class
	Reason   string
	Attempts int // calls made to Trustpilot for it
	FailedAt time.Time
	// Source is the original record: topic, partition, offset, key, value and headers.
	Source kafka.Message
}

// Message returns the dead-letter message for r: the source's key and value unchanged,
// invitepipe's headers first, then the source's own (a redriven record's old
// invitepipe headers are replaced, not repeated).
func (r Record) Message() kafka.Message {
	h := []kafka.Header{
		{Key: HeaderClass, Value: []byte(r.Class)},
		{Key: HeaderError, Value: []byte(r.Reason)},
		{Key: HeaderAttempts, Value: strconv.AppendInt(nil, int64(r.Attempts), 10)},
		{Key: HeaderSourceTopic, Value: []byte(r.Source.Topic)},
		{Key: HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(r.Source.Partition), 10)},
		{Key: HeaderSourceOffset, Value: strconv.AppendInt(nil, r.Source.Offset, 10)},
		{Key: HeaderFailedAt, Value: []byte(r.FailedAt.UTC().Format(time.RFC3339))},
	}
	for _, sh := range r.Source.Headers {
		if !slices.Contains(ownHeaders, sh.Key) {
			h = append(h, sh)
		}
	}
	return kafka.Message{Key: r.Source.Key, Value: r.Source.Value, Headers: h}
}

// Parse reads a dead-letter message back into a Record. Source holds the original key,
// value and headers, and the source topic, partition and offset from the headers.
func Parse(m kafka.Message) (Record, error) {
	var r Record
	r.Source = kafka.Message{Key: m.Key, Value: m.Value}
	var err error
	for _, h := range m.Headers {
		v := string(h.Value)
		switch h.Key {
		case HeaderClass:
			r.Class = Class(v)
		case HeaderError:
			r.Reason = v
		case HeaderAttempts:
			r.Attempts, err = strconv.Atoi(v)
		case HeaderSourceTopic:
			r.Source.Topic = v
		case HeaderSourcePartition:
			r.Source.Partition, err = strconv.Atoi(v)
		case HeaderSourceOffset:
			r.Source.Offset, err = strconv.ParseInt(v, 10, 64)
		case HeaderFailedAt:
			r.FailedAt, err = time.Parse(time.RFC3339, v)
		default:
			r.Source.Headers = append(r.Source.Headers, h)
		}
		if err != nil {
			return r, fmt.Errorf("dead-letter header %s=%q: %w", h.Key, v, err)
		}
	}
	if r.Class == "" {
		return r, fmt.Errorf("not a dead-letter record: no %s header", HeaderClass)
	}
	return r, nil
}

// Writer writes dead-letter records to the DLQ topic.
type Writer struct {
	w *kafka.Writer
}

// NewWriter writes to topic with acks from all in-sync replicas. Records of one key land
// on one partition.
func NewWriter(conn *kafkaconn.Conn, topic string) *Writer {
	return &Writer{w: &kafka.Writer{
		Addr:         kafka.TCP(conn.Brokers...),
		Topic:        topic,
		Transport:    conn.Transport,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		// Concurrent writers share batches; a lone record waits at most this long.
		BatchTimeout: 5 * time.Millisecond,
		MaxAttempts:  5,
	}}
}

// Write stores r and returns once all in-sync replicas have it.
func (w *Writer) Write(ctx context.Context, r Record) error {
	if err := w.w.WriteMessages(ctx, r.Message()); err != nil {
		return fmt.Errorf("dead-letter write to %s (class %s): %w", w.w.Topic, r.Class, err)
	}
	return nil
}

// Close flushes and closes the writer.
func (w *Writer) Close() error { return w.w.Close() }

// Describe renders r for people, as `invitepipe dlq show` prints it.
func Describe(r Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "key:    %s\nvalue:  %s\n", r.Source.Key, r.Source.Value)
	for _, h := range r.Message().Headers {
		fmt.Fprintf(&b, "%-28s %s\n", h.Key+":", h.Value)
	}
	return b.String()
}
