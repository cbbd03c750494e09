package consumer

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// Retention returns the rows topic's retention.ms as a duration; 0 when the topic keeps
// messages forever (-1).
func (c *Consumer) Retention(ctx context.Context) (time.Duration, error) {
	client := &kafka.Client{Addr: kafka.TCP(c.conn.Brokers...), Transport: c.conn.Transport}
	resp, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: c.cfg.Topic, ConfigNames: []string{"retention.ms"},
	}}})
	if err != nil {
		return 0, fmt.Errorf("retention of %s: %w", c.cfg.Topic, err)
	}
	for _, r := range resp.Resources {
		if r.Error != nil {
			return 0, fmt.Errorf("retention of %s: %w", c.cfg.Topic, r.Error)
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName != "retention.ms" {
				continue
			}
			ms, err := strconv.ParseInt(e.ConfigValue, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("retention of %s: retention.ms %q: %w", c.cfg.Topic, e.ConfigValue, err)
			}
			if ms < 0 {
				return 0, nil
			}
			return time.Duration(ms) * time.Millisecond, nil
		}
	}
	return 0, fmt.Errorf("retention of %s: the broker did not report retention.ms", c.cfg.Topic)
}

// SetDeferMaxAge sets Config.DeferMaxAge before Run.
func (c *Consumer) SetDeferMaxAge(d time.Duration) { c.cfg.DeferMaxAge = d }
