package deliver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/destination"
	"github.com/invitepipe/invitepipe/internal/dlq"
	"github.com/invitepipe/invitepipe/internal/ledger"
	"github.com/invitepipe/invitepipe/internal/mapping"
	"github.com/invitepipe/invitepipe/internal/metrics"
	"github.com/invitepipe/invitepipe/internal/ratelimit"
	"github.com/invitepipe/invitepipe/internal/trustpilot"
)

// Policy is what to do with a reference whose earlier send has an unknown outcome.
type Policy string

// The unknown_outcome policies (INVITEPIPE_UNKNOWN_OUTCOME).
const (
	PolicyDLQ    Policy = "dlq"
	PolicyResend Policy = "resend"
)

// Config tunes delivery. Zero durations and counts are invalid: the consumer's
// configuration gives every default.
type Config struct {
	UnknownOutcome Policy
	// Lease is the ledger's lease: a call is cut off before it, so that a reservation
	// always outlives the call it guards.
	Lease         time.Duration
	MaxAttempts   int
	MaxElapsed    time.Duration
	Backoff       time.Duration
	BackoffMax    time.Duration
	ProbeInterval time.Duration
	// Owner names this process in ledger reservations, e.g. the pod name.
	Owner string
}

// DeadLetters stores dead-letter records; *dlq.Writer in production.
type DeadLetters interface {
	Write(ctx context.Context, r dlq.Record) error
}

// Handler delivers row messages; it implements consumer.Handler.
type Handler struct {
	cfg         Config
	router      *mapping.Router
	activations map[string]*route
	gates       map[string]*gate
	ledger      *ledger.Ledger
	limiter     *ratelimit.Limiter
	dead        DeadLetters
	metrics     *metrics.Metrics
	log         zerolog.Logger
	tries       *tries
}

// route is how an activation's rows travel: its destination and its max_age.
type route struct {
	dest   *destination.Destination
	gate   *gate
	maxAge time.Duration
}

// New returns a Handler for the activations of f, sending through dests.
func New(cfg Config, f *activation.File, dests map[string]*destination.Destination, l *ledger.Ledger, rl *ratelimit.Limiter, dead DeadLetters, m *metrics.Metrics, log zerolog.Logger) (*Handler, error) {
	if cfg.UnknownOutcome != PolicyDLQ && cfg.UnknownOutcome != PolicyResend {
		return nil, fmt.Errorf("deliver: unknown_outcome policy %q: use dlq or resend", cfg.UnknownOutcome)
	}
	if cfg.Lease <= 0 || cfg.MaxAttempts < 1 || cfg.MaxElapsed <= 0 || cfg.Backoff <= 0 || cfg.BackoffMax < cfg.Backoff || cfg.ProbeInterval <= 0 {
		return nil, fmt.Errorf("deliver: lease, attempts, elapsed, backoff and probe interval must be positive (and the backoff cap at least the backoff): %+v", cfg)
	}
	h := &Handler{cfg: cfg, router: mapping.NewRouter(f), activations: map[string]*route{}, gates: map[string]*gate{}, ledger: l, limiter: rl, dead: dead, metrics: m, log: log, tries: newTries()}
	for name := range dests {
		h.gates[name] = newGate(name, cfg.ProbeInterval, m.DestinationPaused.WithLabelValues(name))
	}
	for i := range f.Activations {
		a := &f.Activations[i]
		d, ok := dests[a.Destination]
		if !ok {
			return nil, fmt.Errorf("deliver: activation %s: destination %q has no client", a.ID, a.Destination)
		}
		h.activations[a.ID] = &route{dest: d, gate: h.gates[a.Destination], maxAge: a.MaxAge}
	}
	return h, nil
}

// Paused lists the destinations paused as misconfigured, with the reason, for /readyz.
func (h *Handler) Paused() []string {
	var out []string
	for name, g := range h.gates {
		if paused, reason := g.state(); paused {
			out = append(out, name+": "+reason)
		}
	}
	slices.Sort(out)
	return out
}

// errAbandoned is returned when the consumer drains before the message has an outcome.
var errAbandoned = errors.New("abandoned: the consumer is draining")

// Handle gives msg its outcome: nil once it is sent, a duplicate, or dead-lettered; a
// *lane.Wait when its destination (or its own retry) cannot go on before a time; another
// error when it had to stop first (draining, or the ledger needs an operator). It never
// sleeps on a destination: every such wait is returned to the consumer.
func (h *Handler) Handle(ctx, draining context.Context, msg kafka.Message) error {
	j := &job{h: h, ctx: ctx, waits: draining, msg: msg}
	return j.run()
}

// Expire dead-letters msg as deferred_expired: it waited for its destination longer
// than INVITEPIPE_DEFER_MAX_AGE, and Kafka's retention would soon delete it.
func (h *Handler) Expire(ctx context.Context, msg kafka.Message, waited time.Duration) error {
	j := &job{h: h, ctx: ctx, waits: ctx, msg: msg}
	j.try = h.tries.get(msg)
	return j.deadLetter(dlq.DeferredExpired, fmt.Sprintf("waited %s for its destination, longer than INVITEPIPE_DEFER_MAX_AGE, before Kafka's retention could delete it; redrive it once the destination works", waited.Round(time.Second)))
}

// job is one message on its way.
type job struct {
	h     *Handler
	ctx   context.Context // ends at the drain deadline: calls under way stop
	waits context.Context // ends when draining starts: waits stop
	msg   kafka.Message

	route    *route
	backfill bool // a backfill row: it waits in its destination's backfill lane
	inv      trustpilot.Invitation
	owner    string
	busyWait time.Duration // lease left of the worker holding the reference (Busy)
	try      *try          // the message's failures so far, kept across its deferrals
}

func (j *job) run() error {
	j.try = j.h.tries.get(j.msg)
	found, err := j.h.router.Find(j.msg.Value)
	if err != nil {
		class := dlq.Malformed
		if unknown := (*mapping.UnknownActivationError)(nil); errors.As(err, &unknown) {
			class = dlq.UnknownActivation
		}
		return j.deadLetter(class, err.Error())
	}
	m, r := found.Message, j.h.activations[found.Activation.ID]
	emitted := m.EmittedAt
	if emitted.IsZero() {
		emitted = j.msg.Time // a row without emitted_at is as old as its Kafka record
	}
	if age := time.Since(emitted); r.maxAge > 0 && age > r.maxAge {
		return j.deadLetter(dlq.Stale, fmt.Sprintf("emitted %s ago, older than its activation's max_age %s: not sent late; redrive it if it should still go", age.Round(time.Second), r.maxAge))
	}
	routed, err := j.h.router.Map(found)
	if err != nil {
		return j.deadLetter(dlq.InvalidRow, err.Error())
	}
	inv := routed.Invitation
	j.route, j.inv, j.backfill = r, inv, m.Backfill
	if j.try.owner == "" {
		j.try.owner = fmt.Sprintf("%s/%d/%d/%08x", j.h.cfg.Owner, j.msg.Partition, j.msg.Offset, rand.Uint32())
	}
	j.owner = j.try.owner
	return j.send()
}
