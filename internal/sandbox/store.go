package sandbox

import (
	"container/heap"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Status is where an accepted invitation stands.
type Status string

// The statuses of an accepted invitation. An invitation is notsent until its send time;
// then it becomes sent, or suppressed when the frequency rule forbids it.
const (
	StatusNotSent    Status = "notsent"
	StatusSent       Status = "sent"
	StatusSuppressed Status = "suppressed"
)

// Invitation is one accepted email invitation as the sandbox recorded it.
type Invitation struct {
	ID              string `json:"id"`
	BusinessUnitID  string `json:"businessUnitId"`
	ReferenceNumber string `json:"referenceNumber"`
	ConsumerEmail   string `json:"consumerEmail"`
	ConsumerName    string `json:"consumerName"`
	// Type is service, product or both: which review invitations the body asked for.
	Type   string `json:"type"`
	Status Status `json:"status"`
	// CreatedAt is when the call was accepted; SendAt is when it is (or was) due: the
	// earliest send time among its service and product parts.
	CreatedAt time.Time `json:"createdAt"`
	SendAt    time.Time `json:"sendAt"`
	// APIKey is the key whose token made the call.
	APIKey string `json:"apiKey"`
	// Body is the request body exactly as received.
	Body json.RawMessage `json:"body"`
}

// record is an Invitation in the store.
type record struct {
	Invitation
	seq     int  // creation order: breaks SendAt ties
	deleted bool // removed by delete invitation data while still queued
}

// store holds the accepted invitations and sends them when due. Sending is lazy: every
// operation first sends what the clock says is due, in send-time order, so a fake
// clock gives exact, repeatable transitions. The caller holds Server.mu.
type store struct {
	all    []*record // creation order
	queued queue     // notsent, earliest SendAt first
	// lastSent is the send time of the latest sent invitation per business unit and
	// lower-cased email: what the frequency rule looks at.
	lastSent map[string]time.Time
	seq      int
}

func newStore() store { return store{lastSent: map[string]time.Time{}} }

func recipientKey(businessUnitID, email string) string {
	return businessUnitID + "\x00" + strings.ToLower(email)
}

// add queues an accepted invitation.
func (st *store) add(inv Invitation) {
	st.seq++
	rec := &record{Invitation: inv, seq: st.seq}
	st.all = append(st.all, rec)
	heap.Push(&st.queued, rec)
}

// advance sends every queued invitation due at now. One due less than frequency after
// the last invitation sent to the same recipient is suppressed instead; frequency 0
// never suppresses.
func (st *store) advance(now time.Time, frequency time.Duration) {
	for len(st.queued) > 0 && !st.queued[0].SendAt.After(now) {
		rec := heap.Pop(&st.queued).(*record)
		if rec.deleted {
			continue
		}
		key := recipientKey(rec.BusinessUnitID, rec.ConsumerEmail)
		if last, ok := st.lastSent[key]; ok && frequency > 0 && rec.SendAt.Sub(last) < frequency {
			rec.Status = StatusSuppressed
			continue
		}
		rec.Status = StatusSent
		st.lastSent[key] = rec.SendAt
	}
}

// list returns copies of the invitations matching the filters ("" matches all), in
// creation order.
func (st *store) list(businessUnitID, reference string) []Invitation {
	out := []Invitation{}
	for _, rec := range st.all {
		if (businessUnitID == "" || rec.BusinessUnitID == businessUnitID) &&
			(reference == "" || rec.ReferenceNumber == reference) {
			out = append(out, rec.Invitation)
		}
	}
	return out
}

// remove deletes the invitations for which match is true, and forgets them for the
// frequency rule.
func (st *store) remove(match func(*Invitation) bool) {
	st.all = slices.DeleteFunc(st.all, func(rec *record) bool {
		rec.deleted = match(&rec.Invitation)
		return rec.deleted
	})
	clear(st.lastSent)
	for _, rec := range st.all {
		key := recipientKey(rec.BusinessUnitID, rec.ConsumerEmail)
		if last, ok := st.lastSent[key]; rec.Status == StatusSent && (!ok || rec.SendAt.After(last)) {
			st.lastSent[key] = rec.SendAt
		}
	}
}

// queue is a min-heap of records by (SendAt, seq).
type queue []*record

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].SendAt.Equal(q[j].SendAt) {
		return q[i].SendAt.Before(q[j].SendAt)
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*record)) }
func (q *queue) Pop() any {
	old := *q
	rec := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return rec
}
