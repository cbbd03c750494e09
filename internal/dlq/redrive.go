package dlq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
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

// Source is what a redrive reads its records from: a Snapshot of the DLQ topic, or any
// sequence that reads the same entries each time.
type Source interface {
	Read(ctx context.Context, fn func(Entry) error) error
}

// SampleSize is how many selected entries a plan keeps to show.
const SampleSize = 5

// maxProblems bounds the problems a plan keeps to report; it counts them all.
const maxProblems = 20

// Redrive republishes the records of a Source that Filter selects to the rows topic.
// Plan reads them once and keeps counts, a sample and the ledger marks; Execute reads
// them again to write them. So its memory does not grow with the selection, only with
// its unknown_outcome references.
type Redrive struct {
	ID     string
	Filter Filter

	// Set by Plan.

	// Selected counts the entries selected, ByClass the records among them by class.
	Selected int
	ByClass  map[Class]int
	// Sample holds the first SampleSize entries selected, in the order read.
	Sample []Entry
	// Marks are the ledger entries of the unknown_outcome records, each once.
	Marks []Mark
	// Unknown counts the unknown_outcome records selected.
	Unknown int

	notRecords, unmapped problems
}

// problems are the first maxProblems errors of one kind, and how many there were.
type problems struct {
	errs []error
	n    int
}

func (p *problems) add(err error) {
	if p.n++; len(p.errs) < maxProblems {
		p.errs = append(p.errs, err)
	}
}

// err joins the errors kept, saying how many were left out; nil when there were none.
func (p *problems) err() error {
	if p.n > len(p.errs) {
		return errors.Join(append(slices.Clip(p.errs), fmt.Errorf("... and %d more", p.n-len(p.errs)))...)
	}
	return errors.Join(p.errs...)
}

// Plan reads src and records what the redrive would republish: the entries Filter
// selects, counted by class, a sample, and the ledger entry of each unknown_outcome record,
// found with router as the consumer finds it. Only an error reading src is returned; what
// stops the redrive itself is Check's.
func (rd *Redrive) Plan(ctx context.Context, src Source, router *mapping.Router) error {
	rd.Selected, rd.ByClass, rd.Sample, rd.Marks, rd.Unknown = 0, map[Class]int{}, nil, nil, 0
	rd.notRecords, rd.unmapped = problems{}, problems{}
	seen := map[Mark]bool{}
	return src.Read(ctx, func(e Entry) error {
		if !rd.Filter.Match(e) {
			return nil
		}
		rd.Selected++
		if len(rd.Sample) < SampleSize {
			rd.Sample = append(rd.Sample, e)
		}
		if e.Err != nil {
			rd.notRecords.add(fmt.Errorf("DLQ %s: not a dead-letter record, cannot be redriven: %w", Position{e.Partition, e.Offset}, e.Err))
			return nil
		}
		rd.ByClass[e.Record.Class]++
		if e.Record.Class != UnknownOutcome {
			return nil
		}
		rd.Unknown++
		routed, err := router.Route(e.Record.Source.Value)
		if err != nil {
			rd.unmapped.add(fmt.Errorf("DLQ %s: unknown_outcome record whose row does not map with this activation file, so its ledger mark cannot be found: %w", Position{e.Partition, e.Offset}, err))
			return nil
		}
		m := Mark{BusinessUnitID: routed.Destination.BusinessUnitID, Reference: routed.Invitation.ReferenceNumber}
		if !seen[m] {
			seen[m] = true
			rd.Marks = append(rd.Marks, m)
		}
		return nil
	})
}

// Check says whether the planned redrive may run: it refuses a message that is not a
// dead-letter record; any unknown_outcome record unless acceptDuplicates, with
// ErrPossibleDuplicates; and an unknown_outcome record whose row no longer maps (its
// ledger entry cannot be named).
func (rd *Redrive) Check(acceptDuplicates bool) error {
	if err := rd.notRecords.err(); err != nil {
		return err
	}
	if rd.Unknown > 0 && !acceptDuplicates {
		return fmt.Errorf("%w (%d record(s))", ErrPossibleDuplicates, rd.Unknown)
	}
	return rd.unmapped.err()
}

// Result is what Execute did.
type Result struct {
	// Cleared counts the marks cleared.
	Cleared int
	// Confirmed are the marks found confirmed: those invitations were sent, and their
	// redriven rows will be skipped as duplicates.
	Confirmed []Mark
	// Written counts the rows republished: the plan's Selected, less any record that
	// retention deleted from the topic in between.
	Written int
}

// writeBatch bounds the rows of one write.
const writeBatch = 500

// Execute clears every mark of the plan (TakeOver, then Forget, owned by the redrive's
// id), then reads src again and republishes each entry Filter selects with Redriven. It
// clears them all before writing any row, so a refusal (a reference a consumer is
// sending right now) writes nothing. It is safe to run again after a failure: a cleared
// mark is absent, and a row written twice is a duplicate for the ledger.
func (rd *Redrive) Execute(ctx context.Context, src Source, marks Marks, w RowWriter) (Result, error) {
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
	msgs := make([]kafka.Message, 0, min(rd.Selected, writeBatch))
	flush := func() error {
		if len(msgs) == 0 {
			return nil
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("rows topic: republish (%d of %d written): %w", res.Written, rd.Selected, err)
		}
		res.Written += len(msgs)
		msgs = msgs[:0]
		return nil
	}
	err := src.Read(ctx, func(e Entry) error {
		if e.Err != nil || !rd.Filter.Match(e) {
			return nil
		}
		if msgs = append(msgs, e.Record.Redriven(rd.ID)); len(msgs) < writeBatch {
			return nil
		}
		return flush()
	})
	if err == nil {
		err = flush()
	}
	return res, err
}
