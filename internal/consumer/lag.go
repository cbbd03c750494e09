package consumer

import (
	"context"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// Lag returns how many messages of the topic the group has not committed yet, summed
// over partitions. A partition without a commit counts from its first offset.
func (c *Consumer) Lag(ctx context.Context) (int64, error) {
	client := &kafka.Client{Addr: kafka.TCP(c.conn.Brokers...), Transport: c.conn.Transport}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{c.cfg.Topic}})
	if err != nil {
		return 0, fmt.Errorf("lag: metadata: %w", err)
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		return 0, fmt.Errorf("lag: topic %s not found", c.cfg.Topic)
	}
	var ids []int
	var first, last []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		ids = append(ids, p.ID)
		first = append(first, kafka.FirstOffsetOf(p.ID))
		last = append(last, kafka.LastOffsetOf(p.ID))
	}
	// One request per kind: a broker refuses a partition twice in one request.
	start, end := map[int]int64{}, map[int]int64{}
	for _, q := range []struct {
		reqs []kafka.OffsetRequest
		into map[int]int64
		pick func(kafka.PartitionOffsets) int64
	}{
		{first, start, func(p kafka.PartitionOffsets) int64 { return p.FirstOffset }},
		{last, end, func(p kafka.PartitionOffsets) int64 { return p.LastOffset }},
	} {
		resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{c.cfg.Topic: q.reqs}})
		if err != nil {
			return 0, fmt.Errorf("lag: list offsets: %w", err)
		}
		for _, po := range resp.Topics[c.cfg.Topic] {
			if po.Error != nil {
				return 0, fmt.Errorf("lag: list offsets of partition %d: %w", po.Partition, po.Error)
			}
			q.into[po.Partition] = q.pick(po)
		}
	}
	committed, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: c.cfg.Group, Topics: map[string][]int{c.cfg.Topic: ids}})
	if err != nil {
		return 0, fmt.Errorf("lag: offset fetch: %w", err)
	}
	var lag int64
	for _, p := range committed.Topics[c.cfg.Topic] {
		from := p.CommittedOffset
		if from < start[p.Partition] {
			from = start[p.Partition]
		}
		if d := end[p.Partition] - from; d > 0 {
			lag += d
		}
	}
	return lag, nil
}
