package ledger

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/invitepipe/invitepipe/internal/redisbatch"
)

//go:embed ledger.lua
var scriptSource string

// script runs as EVALSHA, falling back to EVAL once per server that lacks it.
var script = redis.NewScript(scriptSource)

// Status is the answer of Reserve and TakeOver.
type Status int

const (
	// Reserved: the reference is now reserved for the caller's owner token for
	// Options.Lease. Call Trustpilot, then Confirm, Release, MarkUnknown or Forget.
	Reserved Status = iota + 1
	// Duplicate: the reference was sent and confirmed within the retention. Skip the
	// message; it has its outcome.
	Duplicate
	// Busy: another owner holds a live reservation. Wait Result.Wait and ask again;
	// never skip the message.
	Busy
	// UnknownOutcome: an earlier reservation ran out unconfirmed, or was marked unknown.
	// Trustpilot may or may not have created the invitation. Apply the unknown_outcome
	// policy (see the package documentation).
	UnknownOutcome
)

// String returns the status in snake case, e.g. "unknown_outcome".
func (s Status) String() string {
	switch s {
	case Reserved:
		return "reserved"
	case Duplicate:
		return "duplicate"
	case Busy:
		return "busy"
	case UnknownOutcome:
		return "unknown_outcome"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is the answer of Reserve and TakeOver.
type Result struct {
	Status Status
	// Wait is, for Busy, how long the holder's lease still runs by the Redis server's
	// clock: ask again after it. Zero for the other statuses.
	Wait time.Duration
}

// Ledger records which reference numbers of which business units were sent. It is safe
// for concurrent use; it holds no state but its options, so any number of Ledgers in any
// number of processes may share one Redis.
type Ledger struct {
	client redis.UniversalClient
	opts   Options
	batch  *redisbatch.Batcher[*call] // nil unless Options.Batch
}

// New returns a Ledger on client, which may be a single server, a Sentinel failover
// client or a Redis Cluster client. It returns an error naming the field when opts is
// invalid; zero fields take their defaults.
func New(client redis.UniversalClient, opts Options) (*Ledger, error) {
	if client == nil {
		return nil, errors.New("ledger: New: the Redis client is nil; pass the consumer's redis.UniversalClient")
	}
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	l := &Ledger{client: client, opts: opts}
	if opts.Batch {
		l.batch = redisbatch.New(l.exec, func(c *call) string { return c.span.keys[0] },
			redisbatch.Options{Delay: opts.BatchDelay, Group: redisbatch.Grouping(client)})
	}
	return l, nil
}

// Reserve reserves reference of businessUnitID for owner before the call to Trustpilot.
//
// It answers Reserved when the reference is free, or already reserved by owner (a retried
// Reserve of the same attempt; the lease starts again); Duplicate when it was confirmed
// within the retention; Busy, with the lease left, when another owner holds it;
// UnknownOutcome when an earlier reservation expired unconfirmed or was marked unknown.
// Only Reserved writes.
//
// owner must identify one attempt to send one message (e.g. pod, partition, offset and
// a random part): two attempts sharing an owner would both be told Reserved.
func (l *Ledger) Reserve(ctx context.Context, businessUnitID, reference, owner string) (Result, error) {
	return l.reserve(ctx, &reserveOp, businessUnitID, reference, owner)
}

// TakeOver is Reserve under the unknown_outcome policy: it also reserves an unknown
// outcome for owner (Reserved) instead of answering UnknownOutcome. Use it to resend
// (policy resend), or to hold the reference while dead-lettering it (policy dlq) before
// Forget.
func (l *Ledger) TakeOver(ctx context.Context, businessUnitID, reference, owner string) (Result, error) {
	return l.reserve(ctx, &takeOverOp, businessUnitID, reference, owner)
}

// Confirm records that Trustpilot accepted the invitation (2xx). The reference is
// confirmed afterwards whatever Confirm found, because the invitation was sent: a
// reservation of owner is confirmed even after its lease ran out; an entry reserved by
// another owner, marked unknown, or gone is overwritten, and Confirm returns
// ErrLeaseLost to say that another worker may have acted on the reference meanwhile
// (dead-lettered it as unknown_outcome, or be resending it). The message's outcome is
// "sent" either way. An already confirmed reference stays confirmed and Confirm returns
// nil, so a retried Confirm succeeds.
//
// After a 2xx, retry Confirm on ErrUnavailable until it succeeds: until then the
// reservation turns into an unknown outcome when its lease ends.
func (l *Ledger) Confirm(ctx context.Context, businessUnitID, reference, owner string) error {
	return l.settle(ctx, &confirmOp, businessUnitID, reference, owner)
}

// Release drops owner's reservation after a failure that certainly did not create the
// invitation and will be retried: 429, 401/403/404, a refused connection, a failure
// before the request was written. No trace remains, so the next Reserve answers Reserved.
// A release of a reference that is not reserved by owner changes nothing; it returns nil
// when the reference is gone (a retried Release) and ErrLeaseLost otherwise.
//
// A failure that may have reached Trustpilot (a timeout after the request was written, a
// connection cut before the answer, a gateway 502/504) is not certain: use MarkUnknown.
func (l *Ledger) Release(ctx context.Context, businessUnitID, reference, owner string) error {
	return l.settle(ctx, &releaseOp, businessUnitID, reference, owner)
}

// MarkUnknown turns owner's reservation into an unknown outcome at once, after a call
// whose result is ambiguous; every later Reserve, owner's included, answers
// UnknownOutcome, so the unknown_outcome policy decides, as it would after a crash. (Not
// calling anything has the same effect when the lease ends.) If the reference is gone,
// MarkUnknown writes the mark and returns ErrLeaseLost; if another owner holds it or it
// is confirmed, nothing changes and it returns ErrLeaseLost. A reference that is already
// an unknown outcome stays one and MarkUnknown returns nil.
func (l *Ledger) MarkUnknown(ctx context.Context, businessUnitID, reference, owner string) error {
	return l.settle(ctx, &markUnknownOp, businessUnitID, reference, owner)
}

// Forget deletes owner's reservation after Trustpilot rejected the invitation for good
// (400, 415: the row goes to the DLQ as rejected), or after the message was dead-lettered
// as unknown_outcome following TakeOver, so that a fixed or redriven row is sent. It
// never deletes a confirmed reference or another owner's reservation (ErrLeaseLost) and
// returns nil when the reference is gone (a retried Forget).
func (l *Ledger) Forget(ctx context.Context, businessUnitID, reference, owner string) error {
	return l.settle(ctx, &forgetOp, businessUnitID, reference, owner)
}

func (l *Ledger) reserve(ctx context.Context, o *op, businessUnitID, reference, owner string) (Result, error) {
	state, left, err := l.run(ctx, o, false, businessUnitID, reference, owner)
	if err != nil {
		return Result{}, err
	}
	r := Result{Status: o.steps[state].status}
	if r.Status == Busy {
		r.Wait = left
	}
	return r, nil
}

// settle runs an operation that follows the owner's Reserve or TakeOver, which moved the
// entry to the current epoch: it looks in the recent epochs first, and further only if
// the entry is not there.
func (l *Ledger) settle(ctx context.Context, o *op, businessUnitID, reference, owner string) error {
	state, _, err := l.run(ctx, o, true, businessUnitID, reference, owner)
	if err != nil {
		return err
	}
	if o.steps[state].lost {
		return &Error{Op: o.name, BusinessUnitID: businessUnitID, Reference: reference, Kind: ErrLeaseLost, Detail: "found " + state.String()}
	}
	return nil
}

// run applies o to the reference and returns what it found and, for a reservation held
// by another owner, its lease left. With recent, it first sends only the recent epochs'
// keys (a partial span), and every retained epoch's when the script asks for them.
func (l *Ledger) run(ctx context.Context, o *op, recent bool, businessUnitID, reference, owner string) (found, time.Duration, error) {
	fail := func(kind error, detail string, err error) (found, time.Duration, error) {
		return 0, 0, &Error{Op: o.name, BusinessUnitID: businessUnitID, Reference: reference, Kind: kind, Detail: detail, Err: err}
	}
	switch {
	case businessUnitID == "" || strings.ContainsAny(businessUnitID, "{}"):
		return fail(ErrInvalid, "business unit id must be non-empty and without braces", nil)
	case reference == "":
		return fail(ErrInvalid, "empty reference", nil)
	case owner == "":
		return fail(ErrInvalid, "empty owner", nil)
	}
	now := l.opts.now()
	c := &call{
		op:    o,
		span:  spanOf(l.opts.KeyPrefix, businessUnitID, reference, now, l.opts.epoch, l.opts.Retention, recent),
		field: compact(reference, maxRawField),
		owner: compact(owner, maxRawOwner),
	}
	l.do(ctx, c)
	if c.err == nil && c.state == lookFurther && c.span.partial {
		c.span = spanOf(l.opts.KeyPrefix, businessUnitID, reference, now, l.opts.epoch, l.opts.Retention, false)
		l.do(ctx, c)
	}
	switch {
	case c.err != nil:
		return fail(kindOf(c.err), "", c.err)
	case c.state < 0 || c.state > int64(unknown):
		return fail(nil, fmt.Sprintf("unexpected script reply {%d, %d}", c.state, c.left), nil)
	case c.state == 0:
		return fail(ErrClockSkew, fmt.Sprintf("this process is in epoch %d, Redis in epoch %d (%v each)", c.span.newest-1, c.left, l.opts.epoch), nil)
	}
	return found(c.state), time.Duration(c.left) * time.Millisecond, nil
}

// lookFurther is ledger.lua's answer to a partial span that neither holds the reference
// nor reaches every retained epoch.
const lookFurther = 6

// do runs c, in a batch with Options.Batch.
func (l *Ledger) do(ctx context.Context, c *call) {
	if l.batch == nil {
		l.exec(ctx, [][]*call{{c}})
	} else if err := l.batch.Do(ctx, c); err != nil {
		c.err = err
	}
}

// call is one operation on one reference, and its answer.
type call struct {
	op           *op
	span         span
	field, owner string // as stored: compacted

	state, left int64 // ledger.lua's answer
	err         error
}

// exec applies each group of calls in one script call, in order (on a Redis Cluster a
// group's keys must share a hash slot); several groups go out in one pipeline. It sets
// each call's answer or error.
func (l *Ledger) exec(ctx context.Context, groups [][]*call) {
	cmds := redisbatch.Eval(ctx, l.client, script, len(groups), func(i int) ([]string, []any) { return l.request(groups[i]) })
	for i, g := range groups {
		answer(g, cmds[i])
	}
}

// request returns the keys and arguments of one script call applying calls.
func (l *Ledger) request(calls []*call) (keys []string, args []any) {
	n := 0
	for _, c := range calls {
		n += len(c.span.keys)
	}
	keys = make([]string, 0, n)
	args = make([]any, 0, 3+6*len(calls))
	args = append(args, l.opts.epoch.Milliseconds(), l.opts.Retention.Milliseconds(), l.opts.Lease.Milliseconds())
	for _, c := range calls {
		partial := "0"
		if c.span.partial {
			partial = "1"
		}
		keys = append(keys, c.span.keys...)
		args = append(args, c.span.newest, len(c.span.keys), c.field, c.owner, c.op.actions, partial)
	}
	return keys, args
}

// answer sets each call's answer from cmd, the script call that applied calls.
func answer(calls []*call, cmd *redis.Cmd) {
	reply, err := cmd.Int64Slice()
	if err == nil && len(reply) != 2*len(calls) {
		err = fmt.Errorf("unexpected script reply: %d numbers for %d operations", len(reply), len(calls))
	}
	for i, c := range calls {
		if err != nil {
			c.err = err
			continue
		}
		c.state, c.left = reply[2*i], reply[2*i+1]
	}
}

// found is what the script found for the caller (ledger.lua's state numbers).
type found int

const (
	absent    found = iota + 1
	confirmed       // sent within the retention
	mine            // reserved by the caller's owner, whatever its lease
	held            // reserved by another owner, lease running
	unknown         // expired reservation of another owner, or marked unknown
)

func (f found) String() string {
	switch f {
	case absent:
		return "no entry"
	case confirmed:
		return "confirmed"
	case mine:
		return "reserved by this owner"
	case held:
		return "reserved by another owner"
	case unknown:
		return "an unknown outcome"
	}
	return fmt.Sprintf("found(%d)", int(f))
}

// step is what an operation does in one found state.
type step struct {
	// write is ledger.lua's action: 'R' reserve for the owner, 'C' confirm, 'U' mark
	// unknown, 'D' delete, '-' nothing.
	write byte
	// status answers Reserve and TakeOver.
	status Status
	// lost makes the other operations return ErrLeaseLost.
	lost bool
}

// op is one operation as a table over found states; it is the single statement of the
// ledger's state machine, interpreted by ledger.lua.
type op struct {
	name    string
	steps   [unknown + 1]step
	actions string // steps' writes, absent first: ledger.lua's ARGV[7]
}

func newOp(name string, steps [unknown + 1]step) op {
	actions := make([]byte, 0, unknown)
	for f := absent; f <= unknown; f++ {
		actions = append(actions, steps[f].write)
	}
	return op{name: name, steps: steps, actions: string(actions)}
}

var (
	reserveOp = newOp("reserve", [...]step{
		absent:    {write: 'R', status: Reserved},
		confirmed: {write: '-', status: Duplicate},
		mine:      {write: 'R', status: Reserved},
		held:      {write: '-', status: Busy},
		unknown:   {write: '-', status: UnknownOutcome},
	})
	takeOverOp = newOp("take over", [...]step{
		absent:    {write: 'R', status: Reserved},
		confirmed: {write: '-', status: Duplicate},
		mine:      {write: 'R', status: Reserved},
		held:      {write: '-', status: Busy},
		unknown:   {write: 'R', status: Reserved},
	})
	confirmOp = newOp("confirm", [...]step{
		absent:    {write: 'C', lost: true},
		confirmed: {write: '-'},
		mine:      {write: 'C'},
		held:      {write: 'C', lost: true},
		unknown:   {write: 'C', lost: true},
	})
	releaseOp = newOp("release", [...]step{
		absent:    {write: '-'},
		confirmed: {write: '-', lost: true},
		mine:      {write: 'D'},
		held:      {write: '-', lost: true},
		unknown:   {write: '-', lost: true},
	})
	markUnknownOp = newOp("mark unknown", [...]step{
		absent:    {write: 'U', lost: true},
		confirmed: {write: '-', lost: true},
		mine:      {write: 'U'},
		held:      {write: '-', lost: true},
		unknown:   {write: '-'},
	})
	// Forget writes what Release writes; they differ in why they are called.
	forgetOp = releaseOp.named("forget")
)

// named returns o under another name.
func (o op) named(name string) op {
	o.name = name
	return o
}
