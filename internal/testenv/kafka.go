package testenv

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// topicTimeout bounds CreateTopic: creating the topic and seeing every partition led.
const topicTimeout = 30 * time.Second

// CreateTopic creates topic name with the given number of partitions (one replica) unless
// it exists, then waits until metadata shows every partition with a leader, so producers
// and consumers can use it at once. It fails the test when the topic exists with another
// partition count or is not visible within 30 s.
//
// kafka-go clients route by metadata that their Transport caches and refreshes every
// Transport.MetadataTTL (6 s by default); a Writer whose cache predates a topic reports
// Unknown Topic Or Partition for it. CreateTopic goes through kafka.DefaultTransport, which
// refreshes that cache on creation, so clients that leave Transport unset see the topic
// at once; a long-lived Transport of one's own may not see it for up to its MetadataTTL.
func CreateTopic(t testing.TB, brokers []string, name string, partitions int) {
	t.Helper()
	CreateTopicVia(t, &kafka.Client{Addr: kafka.TCP(brokers...)}, name, partitions)
}

// CreateTopicVia is CreateTopic through client, e.g. one whose Transport authenticates
// with SASL; clients sharing that Transport see the topic at once.
func CreateTopicVia(t testing.TB, client *kafka.Client, name string, partitions int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), topicTimeout)
	defer cancel()
	created, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: name, NumPartitions: partitions, ReplicationFactor: 1}},
	})
	if err == nil {
		err = created.Errors[name]
	}
	if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		t.Fatalf("testenv: create topic %q: %v", name, err)
	}
	for {
		led, err := ledPartitions(ctx, client, name)
		if err == nil && led > 0 {
			if led != partitions {
				t.Fatalf("testenv: topic %q exists with %d partitions, want %d", name, led, partitions)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("testenv: topic %q not visible with leaders after %v (last error: %v)", name, topicTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ledPartitions returns the number of partitions of topic name when every one has a
// leader, and 0 while one has none.
func ledPartitions(ctx context.Context, client *kafka.Client, name string) (int, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{name}})
	if err != nil {
		return 0, err
	}
	for _, topic := range md.Topics {
		if topic.Name != name {
			continue
		}
		if topic.Error != nil {
			return 0, topic.Error
		}
		for _, p := range topic.Partitions {
			if p.Leader.Host == "" {
				return 0, nil
			}
		}
		return len(topic.Partitions), nil
	}
	return 0, nil
}

// roundTripTimeout bounds RoundTrip.
const roundTripTimeout = time.Minute

// RoundTrip proves a connection to Kafka end to end: it creates a fresh one-partition
// topic through transport, writes one record through transport, reads it back as a
// consumer group through dialer, commits it, and checks the group's committed offset.
// A nil dialer and transport mean kafka-go's defaults (plaintext).
func RoundTrip(t testing.TB, brokers []string, dialer *kafka.Dialer, transport kafka.RoundTripper) {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: transport}
	topic, group := UniqueName(t, "roundtrip"), UniqueName(t, "roundtrip")
	CreateTopicVia(t, client, topic, 1)
	ctx, cancel := context.WithTimeout(context.Background(), roundTripTimeout)
	defer cancel()

	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Transport: transport, RequiredAcks: kafka.RequireAll, BatchSize: 1}
	defer w.Close()
	want := kafka.Message{Key: []byte("row-1"), Value: []byte(`{"email":"x@example.com"}`)}
	if err := w.WriteMessages(ctx, want); err != nil {
		t.Fatalf("testenv: write: %v", err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, Topic: topic, GroupID: group, Dialer: dialer,
		StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond,
	})
	defer r.Close()
	got, err := r.FetchMessage(ctx)
	if err != nil {
		t.Fatalf("testenv: fetch: %v", err)
	}
	if string(got.Key) != string(want.Key) || string(got.Value) != string(want.Value) {
		t.Fatalf("testenv: fetched key %q value %q, want key %q value %q", got.Key, got.Value, want.Key, want.Value)
	}
	if err := r.CommitMessages(ctx, got); err != nil {
		t.Fatalf("testenv: commit: %v", err)
	}
	if committed := CommittedOffsets(client, group, topic, []int{got.Partition}); committed[got.Partition] != got.Offset+1 {
		t.Fatalf("testenv: committed offsets %v, want %d on partition %d", committed, got.Offset+1, got.Partition)
	}
}
