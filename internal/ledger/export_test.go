package ledger

import "time"

// WithClock returns o with now as the clock that picks the epoch keys (the Redis
// server's clock must follow it, as miniredis's SetTime does).
func WithClock(o Options, now func() time.Time) Options {
	o.now = now
	return o
}

// WithEpoch returns o with the layout's time slice replaced by epoch, so that tests on a
// real server can see a short retention run out.
func WithEpoch(o Options, epoch time.Duration) Options {
	o.epoch = epoch
	return o
}

// EpochLength is the layout's time slice.
const EpochLength = epochLength
