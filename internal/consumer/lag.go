package consumer

import (
	"context"
)

// Lag returns how many messages of the topic the group has not committed yet, summed
// over partitions. A partition without a commit counts from its first offset.
func (c *Consumer) Lag(ctx context.Context) (int64, error) {
	return c.conn.Lag(ctx, c.cfg.Group, c.cfg.Topic)
}
