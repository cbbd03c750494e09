package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// pollInterval is how often WaitFor checks its condition.
const pollInterval = 50 * time.Millisecond

// WaitFor checks cond every 50 ms until it holds; the test fails when within passes
// first. It waits on a condition, never for a fixed time.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(pollInterval)
	}
}

// EndOffsets returns the end offset of each partition of topic. A partition whose
// leader cannot answer yet (a topic just created, a broker under load) is asked again
// until it answers, for up to 10 s: its offset is never reported as -1.
func EndOffsets(t testing.TB, client *kafka.Client, topic string) map[int]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		out, err := endOffsets(ctx, client, topic)
		if err == nil {
			return out
		}
		if ctx.Err() != nil {
			t.Fatalf("testenv: end offsets of %s: %v", topic, err)
		}
		time.Sleep(pollInterval) // the broker needs time, not a condition we can wait on
	}
}

func endOffsets(ctx context.Context, client *kafka.Client, topic string) (map[int]int64, error) {
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, err
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		return nil, fmt.Errorf("metadata: %v", meta.Topics)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
	}
	resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, err
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil || p.LastOffset < 0 {
			return nil, fmt.Errorf("partition %d: offset %d: %v", p.Partition, p.LastOffset, p.Error)
		}
		out[p.Partition] = p.LastOffset
	}
	return out, nil
}

// CommittedOffsets returns group's committed offset for each of partitions of topic
// (-1: none), or nil when the broker does not answer.
func CommittedOffsets(client *kafka.Client, group, topic string, partitions []int) map[int]int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: partitions}})
	if err != nil {
		return nil
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// WaitCommitted waits until group's commits on topic reach ends (partition -> offset).
func WaitCommitted(t testing.TB, client *kafka.Client, group, topic string, ends map[int]int64, within time.Duration) {
	t.Helper()
	partitions := make([]int, 0, len(ends))
	for p := range ends {
		partitions = append(partitions, p)
	}
	WaitFor(t, within, fmt.Sprintf("commits of %s to reach %v", group, ends), func() bool {
		got := CommittedOffsets(client, group, topic, partitions)
		for p, end := range ends {
			if got[p] != end {
				return false
			}
		}
		return got != nil
	})
}
