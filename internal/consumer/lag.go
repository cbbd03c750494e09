package consumer

import (
	"context"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// Lag returns how many messages of the topic the group has not committed yet, summed
// over partitions. A partition without a commit counts from its first offset.
func (c *Consumer) Lag(ctx context.Context) (int64, error) {
	ranges, err := c.conn.Ranges(ctx, c.cfg.Topic)
	if err != nil {
		return 0, fmt.Errorf("lag: %w", err)
	}
	ids := make([]int, 0, len(ranges))
	for id := range ranges {
		ids = append(ids, id)
	}
	client := &kafka.Client{Addr: kafka.TCP(c.conn.Brokers...), Transport: c.conn.Transport}
	committed, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: c.cfg.Group, Topics: map[string][]int{c.cfg.Topic: ids}})
	if err != nil {
		return 0, fmt.Errorf("lag: offset fetch: %w", err)
	}
	var lag int64
	for _, p := range committed.Topics[c.cfg.Topic] {
		r := ranges[p.Partition]
		if d := r.End - max(p.CommittedOffset, r.First); d > 0 {
			lag += d
		}
	}
	return lag, nil
}
