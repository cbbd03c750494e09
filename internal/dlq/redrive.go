package dlq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/ledger"
	"github.com/invitepipe/invitepipe/internal/mapping"
)

// HeaderRedrive names, on a row message, the redrive that republished it, e.g.
// redrive-20261130T170000Z-3f9a1c. A redriven row that fails again keeps it on its new
// dead-letter record (Message keeps the source's other headers).
const HeaderRedrive = "invitepipe-redrive"

// NewRedriveID names a redrive started at now: "redrive-", the UTC time to the second,
// and 6 random hex digits.
func NewRedriveID(now time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return "redrive-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// Redriven returns the row message that redrives r under the redrive id: the original
// key and value bytes and the original headers (an earlier redrive's header replaced),
// without the dead-letter headers, plus HeaderRedrive.
func (r Record) Redriven(id string) kafka.Message {
	h := make([]kafka.Header, 0, len(r.Source.Headers)+1)
	for _, sh := range r.Source.Headers {
		if sh.Key != HeaderRedrive {
			h = append(h, sh)
		}
	}
	h = append(h, kafka.Header{Key: HeaderRedrive, Value: []byte(id)})
	return kafka.Message{Key: r.Source.Key, Value: r.Source.Value, Headers: h}
}

// ErrPossibleDuplicates refuses a redrive that selects unknown_outcome records without
// the operator's acceptance: their invitations may already exist in Trustpilot.
var ErrPossibleDuplicates = errors.New("the selection holds unknown_outcome records: their invitations MAY ALREADY EXIST in Trustpilot; " +
	"check the invitation history of each reference first, drop the records whose invitation exists (narrow the selection, e.g. --offsets), " +
	"then redrive with --accept-possible-duplicates, which clears their ledger marks")

// RowWriter writes row messages and returns once all in-sync replicas have them: the
// producer's writer (producer.NewWriter), so a row lands on the partition its key
// always had.
type RowWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Marks clears an unknown-outcome mark of the ledger (*ledger.Ledger): TakeOver, then
// Forget.
type Marks interface {
	TakeOver(ctx context.Context, businessUnitID, reference, owner string) (ledger.Result, error)
	Forget(ctx context.Context, businessUnitID, reference, owner string) error
}

// Mark is a ledger entry a redrive clears: the reference of an unknown_outcome record.
type Mark struct {
	BusinessUnitID, Reference string
}

// Redrive is a selection of dead-letter records to republish to the rows topic.
type Redrive struct {
	ID      string
	Entries []Entry // in the order read
	// Marks are the ledger entries of the unknown_outcome records, each once; set by
	// Resolve.
	Marks []Mark
}

// Unknown counts the unknown_outcome records of the selection.
func (rd *Redrive) Unknown() int {
	n := 0
	for _, e := range rd.Entries {
		if e.Record.Class == UnknownOutcome {
			n++
		}
	}
	return n
}

// Resolve checks that every entry can be redriven and finds the ledger entry of each
// unknown_outcome record with router, as the consumer finds it. It refuses, with
// ErrPossibleDuplicates, any unknown_outcome record unless acceptDuplicates; and a
// message that is not a dead-letter record, or an unknown_outcome record whose row no
// longer maps (its ledger entry cannot be named).
func (rd *Redrive) Resolve(router *mapping.Router, acceptDuplicates bool) error {
	var errs []error
	for _, e := range rd.Entries {
		if e.Err != nil {
			errs = append(errs, fmt.Errorf("DLQ %s: not a dead-letter record, cannot be redriven: %w", Position{e.Partition, e.Offset}, e.Err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if n := rd.Unknown(); n > 0 && !acceptDuplicates {
		return fmt.Errorf("%w (%d record(s))", ErrPossibleDuplicates, n)
	}
	seen := map[Mark]bool{}
	rd.Marks = nil
	for _, e := range rd.Entries {
		if e.Record.Class != UnknownOutcome {
			continue
		}
		routed, err := router.Route(e.Record.Source.Value)
		if err != nil {
			errs = append(errs, fmt.Errorf("DLQ %s: unknown_outcome record whose row does not map with this activation file, so its ledger mark cannot be found: %w", Position{e.Partition, e.Offset}, err))
			continue
		}
		m := Mark{BusinessUnitID: routed.Destination.BusinessUnitID, Reference: routed.Invitation.ReferenceNumber}
		if !seen[m] {
			seen[m] = true
			rd.Marks = append(rd.Marks, m)
		}
	}
	return errors.Join(errs...)
}

// Result is what Execute did.
type Result struct {
	// Cleared counts the marks cleared.
	Cleared int
	// Confirmed are the marks found confirmed: those invitations were sent, and their
	// redriven rows will be skipped as duplicates.
	Confirmed []Mark
	// Written counts the rows republished.
	Written int
}

// writeBatch bounds the rows of one write.
const writeBatch = 500

// Execute clears every mark (TakeOver, then Forget, owned by the redrive's id), then
// republishes each entry with Redriven. It clears them all before writing any row, so a
// refusal (a reference a consumer is sending right now) writes nothing. It is safe to
// run again after a failure: a cleared mark is absent, and a row written twice is a
// duplicate for the ledger.
func (rd *Redrive) Execute(ctx context.Context, marks Marks, w RowWriter) (Result, error) {
	var res Result
	for _, m := range rd.Marks {
		got, err := marks.TakeOver(ctx, m.BusinessUnitID, m.Reference, rd.ID)
		if err != nil {
			return res, fmt.Errorf("ledger: clear the mark of reference %s (business unit %s): %w", m.Reference, m.BusinessUnitID, err)
		}
		switch got.Status {
		case ledger.Duplicate:
			res.Confirmed = append(res.Confirmed, m)
			continue
		case ledger.Busy:
			return res, fmt.Errorf("ledger: reference %s (business unit %s) is being sent by a consumer right now; run the redrive again in %s", m.Reference, m.BusinessUnitID, got.Wait.Round(time.Second))
		}
		if err := marks.Forget(ctx, m.BusinessUnitID, m.Reference, rd.ID); err != nil {
			return res, fmt.Errorf("ledger: forget reference %s (business unit %s): %w", m.Reference, m.BusinessUnitID, err)
		}
		res.Cleared++
	}
	msgs := make([]kafka.Message, 0, min(len(rd.Entries), writeBatch))
	for i, e := range rd.Entries {
		msgs = append(msgs, e.Record.Redriven(rd.ID))
		if len(msgs) < writeBatch && i < len(rd.Entries)-1 {
			continue
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return res, fmt.Errorf("rows topic: republish (%d of %d written): %w", res.Written, len(rd.Entries), err)
		}
		res.Written += len(msgs)
		msgs = msgs[:0]
	}
	return res, nil
}
