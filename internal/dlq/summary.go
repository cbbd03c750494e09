package dlq

import (
	"cmp"
	"slices"
	"time"
)

// Unknown stands for an activation or destination that cannot be told: a malformed
// record names no activation, and an activation missing from the activation file has no
// destination.
const Unknown = "-"

// Group counts the records of one class, activation and destination.
type Group struct {
	Class                   Class
	Activation, Destination string
	Records                 int
	Oldest, Newest          time.Time // failed-at
}

func (g *Group) add(t time.Time) {
	g.Records++
	if g.Oldest.IsZero() || t.Before(g.Oldest) {
		g.Oldest = t
	}
	if t.After(g.Newest) {
		g.Newest = t
	}
}

// Summary counts dead-letter records by class, activation and destination.
type Summary struct {
	// Destination names the destination of an activation; ok false when the activation
	// file does not have it.
	Destination func(activation string) (string, bool)
	// Total counts every record; its Class, Activation and Destination are empty.
	Total Group
	// NotRecords counts the messages that are not dead-letter records.
	NotRecords int
	groups     map[Group]*Group // by Class, Activation and Destination only
}

// Add counts e.
func (s *Summary) Add(e Entry) {
	if e.Err != nil {
		s.NotRecords++
		return
	}
	k := Group{Class: e.Record.Class, Activation: cmp.Or(e.Record.Activation(), Unknown), Destination: Unknown}
	if d, ok := s.Destination(e.Record.Activation()); ok {
		k.Destination = d
	}
	if s.groups == nil {
		s.groups = map[Group]*Group{}
	}
	g := s.groups[k]
	if g == nil {
		g = &k
		s.groups[k] = g
	}
	g.add(e.Record.FailedAt)
	s.Total.add(e.Record.FailedAt)
}

// Groups returns the counts by class (in the contract's order), then activation and
// destination.
func (s *Summary) Groups() []Group {
	out := make([]Group, 0, len(s.groups))
	for _, g := range s.groups {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b Group) int {
		return cmp.Or(cmp.Compare(classRank(a.Class), classRank(b.Class)), cmp.Compare(a.Class, b.Class),
			cmp.Compare(a.Activation, b.Activation), cmp.Compare(a.Destination, b.Destination))
	})
	return out
}

// classRank orders the contract's classes first, in its order; others after them.
func classRank(c Class) int {
	if i := slices.Index(Classes, c); i >= 0 {
		return i
	}
	return len(Classes)
}
