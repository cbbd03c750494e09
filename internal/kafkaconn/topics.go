package kafkaconn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// CreateTopics creates topics with partitions each (the brokers' default replication)
// and returns once every partition of each has a leader whose offsets can be listed, or
// when ctx ends. A topic that exists already is an error.
func (c *Conn) CreateTopics(ctx context.Context, partitions int, topics ...string) error {
	client := &kafka.Client{Addr: kafka.TCP(c.Brokers...), Transport: c.Transport}
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: -1})
	}
	created, err := client.CreateTopics(ctx, req)
	if err == nil {
		for _, t := range topics {
			err = errors.Join(err, created.Errors[t])
		}
	}
	if err != nil {
		return fmt.Errorf("create topics %s on %s: %w", strings.Join(topics, ", "), strings.Join(c.Brokers, ","), err)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for _, t := range topics {
		for {
			ranges, err := c.Ranges(ctx, t)
			if err == nil && len(ranges) == partitions {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("topic %s has no leader for every partition yet (last error: %v): %w", t, err, ctx.Err())
			case <-tick.C:
			}
		}
	}
	return nil
}
