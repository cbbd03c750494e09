package dlq

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/logging"
)

// Entry is one message of the DLQ topic.
type Entry struct {
	// Partition and Offset locate the message on the DLQ topic (not its source).
	Partition int
	Offset    int64
	Record    Record
	// Err is why the message is not a dead-letter record (Parse's error); Record then
	// holds what could be read.
	Err error
}

// Activation returns the activation the record's value names, or "" when the value is
// not a JSON object with a string "activation" (a malformed record).
func (r Record) Activation() string {
	var v struct {
		Activation string `json:"activation"`
	}
	if json.Unmarshal(r.Source.Value, &v) != nil {
		return ""
	}
	return v.Activation
}

// Masked returns r with every email-looking word of its key and value masked
// (logging.MaskEmails), for printing. Its reason is masked already.
func (r Record) Masked() Record {
	r.Source.Key = []byte(logging.MaskEmails(string(r.Source.Key)))
	r.Source.Value = []byte(logging.MaskEmails(string(r.Source.Value)))
	return r
}

// Snapshot is the DLQ topic up to each partition's end when it was taken: reading it
// again reads the same messages (less any that retention deleted meanwhile) and none
// written since. A redrive reads it twice, to plan and to write, so that it never holds
// the selected records in memory.
type Snapshot struct {
	conn   *kafkaconn.Conn
	topic  string
	ranges map[int]kafkaconn.Range
}

// Take records the first and end offsets of every partition of topic.
func Take(ctx context.Context, conn *kafkaconn.Conn, topic string) (*Snapshot, error) {
	ranges, err := conn.Ranges(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("dead-letter topic: %w", err)
	}
	return &Snapshot{conn: conn, topic: topic, ranges: ranges}, nil
}

// Read calls fn with every message of the snapshot, partition by partition in offset
// order. It reads each partition directly, in no consumer group, so it commits nothing
// and moves no one's offsets. An error of fn stops it and is returned.
func (s *Snapshot) Read(ctx context.Context, fn func(Entry) error) error {
	ids := make([]int, 0, len(s.ranges))
	for id := range s.ranges {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := readPartition(ctx, s.conn, s.topic, id, s.ranges[id], fn); err != nil {
			return err
		}
	}
	return nil
}

// Read calls fn with every message of the DLQ topic up to each partition's end when Read
// started (a Snapshot read once); it never waits for newer messages.
func Read(ctx context.Context, conn *kafkaconn.Conn, topic string, fn func(Entry) error) error {
	s, err := Take(ctx, conn, topic)
	if err != nil {
		return err
	}
	return s.Read(ctx, fn)
}

func readPartition(ctx context.Context, conn *kafkaconn.Conn, topic string, partition int, r kafkaconn.Range, fn func(Entry) error) error {
	if r.First >= r.End {
		return nil
	}
	rd := kafka.NewReader(kafka.ReaderConfig{
		Brokers: conn.Brokers, Dialer: conn.Dialer, Topic: topic, Partition: partition,
		MaxBytes: 16 << 20, MaxWait: 500 * time.Millisecond,
	})
	defer rd.Close()
	if err := rd.SetOffset(r.First); err != nil {
		return fmt.Errorf("dead-letter topic %s partition %d: %w", topic, partition, err)
	}
	for {
		m, err := rd.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("dead-letter topic %s partition %d: read after offset %d: %w", topic, partition, rd.Offset(), err)
		}
		rec, perr := Parse(m)
		if err := fn(Entry{Partition: partition, Offset: m.Offset, Record: rec, Err: perr}); err != nil {
			return err
		}
		if m.Offset >= r.End-1 {
			return nil
		}
	}
}
