package sandbox

import (
	"maps"
)

// Stats are the sandbox's counters since start or the last reset, for tests to assert
// on what a client did.
type Stats struct {
	// Calls counts answers by path class (Class* constants) and HTTP status; status 0
	// counts requests dropped without an answer (timeout faults, clients that gave up).
	Calls map[string]map[int]int `json:"calls"`
	// AcceptedInvitations counts email invitations accepted (202, and accept-then-fail
	// faults, whose invitation is recorded too).
	AcceptedInvitations int `json:"acceptedInvitations"`
	// DuplicateReferences counts (business unit, reference number) pairs accepted more
	// than once: invitations a deduplicating client should never have sent.
	DuplicateReferences int `json:"duplicateReferences"`
	// TokensMinted counts access tokens issued, all grants together.
	TokensMinted int `json:"tokensMinted"`
	// RateWindows gives, per API key, the most invitation-host calls one sliding window
	// of each configured rate limit held, counting every authenticated call whatever its
	// answer (429s included): a client that respects the limit keeps MaxCalls <= Limit.
	RateWindows map[string][]WindowPeak `json:"rateWindows"`
}

// WindowPeak is the busiest window of one rate limit for one API key.
type WindowPeak struct {
	Limit    RateWindow `json:"limit"`
	MaxCalls int        `json:"maxCalls"`
}

// counters are the raw statistics. The caller holds Server.mu.
type counters struct {
	calls        map[string]map[int]int
	accepted     int
	perReference map[string]int // business unit + reference -> accepted invitations
	duplicates   int
	tokensMinted int
}

func newCounters() counters {
	return counters{calls: map[string]map[int]int{}, perReference: map[string]int{}}
}

func (c *counters) call(class string, status int) {
	if c.calls[class] == nil {
		c.calls[class] = map[int]int{}
	}
	c.calls[class][status]++
}

func (c *counters) invitationAccepted(businessUnitID, reference string) {
	c.accepted++
	key := businessUnitID + "\x00" + reference
	c.perReference[key]++
	if c.perReference[key] == 2 {
		c.duplicates++
	}
}

// Stats returns the statistics.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Calls:               map[string]map[int]int{},
		AcceptedInvitations: s.stats.accepted,
		DuplicateReferences: s.stats.duplicates,
		TokensMinted:        s.stats.tokensMinted,
		RateWindows:         map[string][]WindowPeak{},
	}
	for class, byStatus := range s.stats.calls {
		st.Calls[class] = maps.Clone(byStatus)
	}
	for key, lim := range s.limits {
		for _, w := range lim.seen {
			st.RateWindows[key] = append(st.RateWindows[key], WindowPeak{Limit: w.RateWindow, MaxCalls: w.peak})
		}
	}
	return st
}
