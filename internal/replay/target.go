package replay

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrTarget is wrapped by every error about a replay's target: one that does not parse,
// names a partition the topic lacks, or lies outside a partition's log.
var ErrTarget = errors.New("replay target")

// kind is what a Target names.
type kind uint8

const (
	earliest kind = iota // every partition's log start
	latest               // every partition's log end
	atTime               // the first offset at or after a time
	explicit             // given offsets of given partitions
)

// Target is where a replay moves the group's offsets. The zero Target is earliest.
type Target struct {
	kind    kind
	at      time.Time
	offsets map[int]int64
}

// ParseTarget reads "earliest", "latest", an RFC 3339 time, or
// "<partition>:<offset>,..." (only the partitions named move).
func ParseTarget(s string) (Target, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "earliest":
		return Target{kind: earliest}, nil
	case "latest":
		return Target{kind: latest}, nil
	case "":
		return Target{}, fmt.Errorf("%w: empty: use earliest, latest, an RFC 3339 time (2024-05-01T00:00:00Z) or partition:offset,... (0:1200,1:880)", ErrTarget)
	}
	if !strings.Contains(s, ":") || strings.ContainsAny(s, "Tt") {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return Target{}, fmt.Errorf("%w: %q is not earliest, latest, an RFC 3339 time (e.g. 2024-05-01T00:00:00Z) or partition:offset,... (e.g. 0:1200,1:880)", ErrTarget, s)
		}
		return Target{kind: atTime, at: t}, nil
	}
	offsets := map[int]int64{}
	for _, item := range strings.Split(s, ",") {
		partText, offText, ok := strings.Cut(strings.TrimSpace(item), ":")
		p, perr := strconv.Atoi(partText)
		o, oerr := strconv.ParseInt(offText, 10, 64)
		if !ok || perr != nil || oerr != nil || p < 0 || o < 0 {
			return Target{}, fmt.Errorf("%w: %q is not partition:offset with whole numbers of at least 0 (e.g. 0:1200)", ErrTarget, item)
		}
		if _, dup := offsets[p]; dup {
			return Target{}, fmt.Errorf("%w: partition %d is named twice", ErrTarget, p)
		}
		offsets[p] = o
	}
	return Target{kind: explicit, offsets: offsets}, nil
}

// String is the target as ParseTarget reads it.
func (t Target) String() string {
	switch t.kind {
	case latest:
		return "latest"
	case atTime:
		return t.at.Format(time.RFC3339Nano)
	case explicit:
		parts := make([]string, 0, len(t.offsets))
		for _, p := range slices.Sorted(maps.Keys(t.offsets)) {
			parts = append(parts, fmt.Sprintf("%d:%d", p, t.offsets[p]))
		}
		return strings.Join(parts, ",")
	}
	return "earliest"
}
