package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrWedged is the watchdog's verdict: nothing was fetched or finished for its timeout
// while the group had lag and nothing was held back on purpose.
var ErrWedged = errors.New("watchdog: no progress while the group has lag")

// Watchdog watches c's progress until ctx ends (it then returns nil), and returns an
// error wrapping ErrWedged once nothing was fetched or finished for timeout while the
// group has lag. Messages held back on purpose never count as a wedge: deferred ones
// (Held) and those of a destination that waits (waiting, e.g. the handler's paused
// destinations). The caller stops the process, so that Kubernetes restarts it.
func (c *Consumer) Watchdog(ctx context.Context, timeout time.Duration, waiting func() bool) error {
	t := time.NewTicker(min(timeout/4, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		idle := time.Since(c.LastProgress())
		if idle < timeout || c.Held() || waiting() {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		lag, err := c.Lag(lctx)
		cancel()
		if err == nil && lag > 0 {
			return fmt.Errorf("%w: idle %s, lag %d", ErrWedged, idle.Round(time.Second), lag)
		}
	}
}
