package dlq

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Classes lists every error class, in the contract's order.
var Classes = []Class{Malformed, UnknownActivation, InvalidRow, Rejected, RetriesExhausted, UnknownOutcome, DeferredExpired, Stale}

// Position is a message's place on the DLQ topic.
type Position struct {
	Partition int
	Offset    int64
}

func (p Position) String() string { return fmt.Sprintf("%d:%d", p.Partition, p.Offset) }

// ParsePositions reads "partition:offset,partition:offset,...", e.g. "0:17,2:40".
func ParsePositions(s string) ([]Position, error) {
	var out []Position
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		p, o, ok := strings.Cut(item, ":")
		part, perr := strconv.Atoi(p)
		off, oerr := strconv.ParseInt(o, 10, 64)
		if !ok || perr != nil || oerr != nil || part < 0 || off < 0 {
			return nil, fmt.Errorf("%q is not partition:offset; write e.g. 0:17,2:40 (the DLQ positions `invitepipe dlq show` prints)", item)
		}
		out = append(out, Position{Partition: part, Offset: off})
	}
	return out, nil
}

// Filter selects dead-letter records. Each set field must match; an empty Filter
// selects every record.
type Filter struct {
	Classes     []Class
	Activations []string  // as the record's value names them
	Since       time.Time // failed at or after; zero: no bound
	Until       time.Time // failed before; zero: no bound
	Positions   []Position
}

// Empty reports whether f selects everything.
func (f Filter) Empty() bool {
	return len(f.Classes) == 0 && len(f.Activations) == 0 && f.Since.IsZero() && f.Until.IsZero() && len(f.Positions) == 0
}

// Validate checks the classes and the time range.
func (f Filter) Validate() error {
	var errs []error
	for _, c := range f.Classes {
		if !slices.Contains(Classes, c) {
			errs = append(errs, fmt.Errorf("class %q is not an error class; use one of %s", c, joinClasses()))
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		errs = append(errs, fmt.Errorf("the time range is empty: since %s is not before until %s", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339)))
	}
	return errors.Join(errs...)
}

func joinClasses() string {
	s := make([]string, len(Classes))
	for i, c := range Classes {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// Match reports whether f selects e. A message that is not a dead-letter record is
// selected only by an empty Filter or by its position.
func (f Filter) Match(e Entry) bool {
	if len(f.Positions) > 0 && !slices.Contains(f.Positions, Position{e.Partition, e.Offset}) {
		return false
	}
	if e.Err != nil {
		rest := f
		rest.Positions = nil
		return rest.Empty() // it has no class, activation or time to match
	}
	r := e.Record
	return (len(f.Classes) == 0 || slices.Contains(f.Classes, r.Class)) &&
		(len(f.Activations) == 0 || slices.Contains(f.Activations, r.Activation())) &&
		(f.Since.IsZero() || !r.FailedAt.Before(f.Since)) &&
		(f.Until.IsZero() || r.FailedAt.Before(f.Until))
}
