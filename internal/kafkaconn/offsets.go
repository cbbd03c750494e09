package kafkaconn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// Range is the offsets a partition holds: from First, the oldest message retention
// kept, to End, the offset the next message will get. First == End: it holds none.
type Range struct {
	First, End int64
}

// Ranges returns the range of every partition of topic, by partition id.
func (c *Conn) Ranges(ctx context.Context, topic string) (map[int]Range, error) {
	// A partition whose leader moves or was just elected answers a retriable error for
	// a moment (Not Leader For Partition, Leader Not Available): ask again, briefly.
	for tries := 1; ; tries++ {
		out, err := c.ranges(ctx, topic)
		var ke kafka.Error
		if err == nil || !errors.As(err, &ke) || !ke.Temporary() || tries == rangeTries {
			return out, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// rangeTries bounds the tries of Ranges: 3 s of a partition without a leader.
const rangeTries = 30

func (c *Conn) ranges(ctx context.Context, topic string) (map[int]Range, error) {
	client := &kafka.Client{Addr: kafka.TCP(c.Brokers...), Transport: c.Transport}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("topic %s: metadata: %w", topic, err)
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		return nil, fmt.Errorf("topic %s not found", topic)
	}
	var first, last []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		first = append(first, kafka.FirstOffsetOf(p.ID))
		last = append(last, kafka.LastOffsetOf(p.ID))
	}
	out := make(map[int]Range, len(first))
	// One request per kind: a broker refuses a partition twice in one request.
	for _, q := range []struct {
		reqs []kafka.OffsetRequest
		set  func(r *Range, p kafka.PartitionOffsets)
	}{
		{first, func(r *Range, p kafka.PartitionOffsets) { r.First = p.FirstOffset }},
		{last, func(r *Range, p kafka.PartitionOffsets) { r.End = p.LastOffset }},
	} {
		resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: q.reqs}})
		if err != nil {
			return nil, fmt.Errorf("topic %s: list offsets: %w", topic, err)
		}
		for _, po := range resp.Topics[topic] {
			if po.Error != nil {
				return nil, fmt.Errorf("topic %s: list offsets of partition %d: %w", topic, po.Partition, po.Error)
			}
			r := out[po.Partition]
			q.set(&r, po)
			out[po.Partition] = r
		}
	}
	return out, nil
}

// Lag returns how many messages of topic group has not committed yet, summed over
// partitions. A partition without a commit counts from its first offset.
func (c *Conn) Lag(ctx context.Context, group, topic string) (int64, error) {
	ranges, err := c.Ranges(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("lag: %w", err)
	}
	ids := make([]int, 0, len(ranges))
	for id := range ranges {
		ids = append(ids, id)
	}
	client := &kafka.Client{Addr: kafka.TCP(c.Brokers...), Transport: c.Transport}
	committed, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ids}})
	if err != nil {
		return 0, fmt.Errorf("lag: offset fetch: %w", err)
	}
	var lag int64
	for _, p := range committed.Topics[topic] {
		r := ranges[p.Partition]
		if d := r.End - max(p.CommittedOffset, r.First); d > 0 {
			lag += d
		}
	}
	return lag, nil
}
