package lane

import (
	"errors"
	"fmt"
	"time"
)

// Reason is why a message waits, the value of the reason label of
// invitepipe_destination_waiting.
type Reason string

// The reasons.
const (
	// Paused: the destination is misconfigured (401 after a re-mint, 403, 404); one
	// message probes it per probe interval.
	Paused Reason = "paused"
	// Cooling: the destination's API key answered 429; every replica waits the
	// cool-down out.
	Cooling Reason = "cooling"
	// Budget: the API key's or the destination's call budget is spent for now.
	Budget Reason = "budget"
	// Retry: the message's own call failed transiently (5xx, timeout) and is retried
	// after a backoff; the destination itself is fine.
	Retry Reason = "retry"
)

// Reasons lists every reason, for metrics that export all of them.
var Reasons = []Reason{Paused, Cooling, Budget, Retry}

// Wait says that a message cannot be handled before Until. It is returned as an error
// by a handler and found with errors.As.
type Wait struct {
	// Lane is the destination the message waits on.
	Lane string
	// Until is the earliest time trying the message again may succeed.
	Until time.Time
	// Reason is why it waits.
	Reason Reason
}

// Error says which lane waits, why and until when.
func (w *Wait) Error() string {
	return fmt.Sprintf("lane %s: %s until %s", w.Lane, w.Reason, w.Until.Format(time.RFC3339Nano))
}

// Own reports whether the wait is the message's own (a retry backoff) rather than its
// lane's: it does not hold back the lane's other messages.
func (w *Wait) Own() bool { return w.Reason == Retry }

// As returns the *Wait in err's chain, or nil.
func As(err error) *Wait {
	var w *Wait
	if errors.As(err, &w) {
		return w
	}
	return nil
}

// Backfill names destination's backfill lane, e.g. "shop-eu/backfill" (destination names
// never hold a '/'): its rows marked "priority": "backfill" wait there, apart from its
// fresh rows, which are served first.
func Backfill(destination string) string { return destination + "/backfill" }
