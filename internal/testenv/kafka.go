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
