package consumer

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/metrics"
)

// committer is a generation's one committer: partitions report their watermarks, and it
// commits those that moved, every interval and once more when the generation's
// partitions have drained.
type committer struct {
	gen     *kafka.Generation
	topic   string
	log     zerolog.Logger
	metrics *metrics.Metrics

	mu        sync.Mutex
	latest    map[int]int64 // partition -> watermark reported
	committed map[int]int64 // partition -> watermark committed
}

// set records partition's watermark. Negative offsets (nothing fetched yet from a group
// without commits) are never committed.
func (c *committer) set(partition int, offset int64) {
	if offset < 0 {
		return
	}
	c.mu.Lock()
	c.latest[partition] = offset
	c.mu.Unlock()
}

// run commits every interval until the generation ends, then waits for the partitions
// to drain and commits their final watermarks.
func (c *committer) run(gctx context.Context, partitions *sync.WaitGroup, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.commit()
		case <-gctx.Done():
			partitions.Wait()
			c.commit()
			return
		}
	}
}

// commit sends the watermarks that moved since the last successful commit.
func (c *committer) commit() {
	c.mu.Lock()
	offsets := make(map[int]int64)
	for p, o := range c.latest {
		if prev, ok := c.committed[p]; !ok || o > prev {
			offsets[p] = o
		}
	}
	c.mu.Unlock()
	if len(offsets) == 0 {
		return
	}
	if err := c.gen.CommitOffsets(map[string]map[int]int64{c.topic: offsets}); err != nil {
		// Not fatal: a later commit carries the same watermarks, and whatever is not
		// committed is delivered again and recognised by the ledger.
		c.log.Warn().Err(err).Int32("generation", c.gen.ID).Msg("committing offsets")
		return
	}
	c.metrics.Commits.Inc()
	c.mu.Lock()
	for p, o := range offsets {
		c.committed[p] = o
	}
	c.mu.Unlock()
}
