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

// Read calls fn with every message of the DLQ topic, partition by partition in offset
// order, from each partition's first offset up to its end when Read started; then it
// returns: it never waits for newer messages. It reads each partition directly, in no
// consumer group, so it commits nothing and moves no one's offsets. An error of fn
// stops it and is returned.
func Read(ctx context.Context, conn *kafkaconn.Conn, topic string, fn func(Entry) error) error {
	ranges, err := conn.Ranges(ctx, topic)
	if err != nil {
		return fmt.Errorf("dead-letter topic: %w", err)
	}
	ids := make([]int, 0, len(ranges))
	for id := range ranges {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := readPartition(ctx, conn, topic, id, ranges[id], fn); err != nil {
			return err
		}
	}
	return nil
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
