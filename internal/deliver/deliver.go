package deliver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
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
	"github.com/invitepipe/invitepipe/internal/row"
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
	activations map[string]*route
	gates       map[string]*gate
	ledger      *ledger.Ledger
	limiter     *ratelimit.Limiter
	dead        DeadLetters
	metrics     *metrics.Metrics
	log         zerolog.Logger
}

// route is how an activation's rows travel: its mapper and its destination.
type route struct {
	mapper *mapping.Mapper
	dest   *destination.Destination
	gate   *gate
}

// New returns a Handler for the activations of f, sending through dests.
func New(cfg Config, f *activation.File, dests map[string]*destination.Destination, l *ledger.Ledger, rl *ratelimit.Limiter, dead DeadLetters, m *metrics.Metrics, log zerolog.Logger) (*Handler, error) {
	if cfg.UnknownOutcome != PolicyDLQ && cfg.UnknownOutcome != PolicyResend {
		return nil, fmt.Errorf("deliver: unknown_outcome policy %q: use dlq or resend", cfg.UnknownOutcome)
	}
	if cfg.Lease <= 0 || cfg.MaxAttempts < 1 || cfg.MaxElapsed <= 0 || cfg.Backoff <= 0 || cfg.BackoffMax < cfg.Backoff || cfg.ProbeInterval <= 0 {
		return nil, fmt.Errorf("deliver: lease, attempts, elapsed, backoff and probe interval must be positive (and the backoff cap at least the backoff): %+v", cfg)
	}
	h := &Handler{cfg: cfg, activations: map[string]*route{}, gates: map[string]*gate{}, ledger: l, limiter: rl, dead: dead, metrics: m, log: log}
	for name := range dests {
		h.gates[name] = newGate(cfg.ProbeInterval, m.DestinationPaused.WithLabelValues(name))
	}
	for i := range f.Activations {
		a := &f.Activations[i]
		d, ok := dests[a.Destination]
		fd, _ := f.Destination(a.Destination)
		if !ok || fd == nil {
			return nil, fmt.Errorf("deliver: activation %s: destination %q has no client", a.ID, a.Destination)
		}
		h.activations[a.ID] = &route{mapper: mapping.New(a, fd), dest: d, gate: h.gates[a.Destination]}
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

// Handle gives msg its outcome. It returns nil once the message is sent, a duplicate, or
// dead-lettered; an error when it had to stop first (draining or ctx ended). Every wait
// (rate limit, backoff, pause) ends with draining; a call under way ends with ctx.
func (h *Handler) Handle(ctx, draining context.Context, msg kafka.Message) error {
	j := &job{h: h, ctx: ctx, waits: draining, msg: msg}
	return j.run()
}

// job is one message on its way.
type job struct {
	h     *Handler
	ctx   context.Context // ends at the drain deadline: calls under way stop
	waits context.Context // ends when draining starts: waits stop
	msg   kafka.Message

	route    *route
	inv      trustpilot.Invitation
	owner    string
	attempts int // calls made, as the dead-letter header reports them
	failures int // calls that failed in a way the retry budget counts (not a paused destination)
	// failingSince is when the first counted failure happened: the elapsed budget runs
	// from there, not from the time spent held by a paused destination.
	failingSince time.Time
	lastErr      error
}

func (j *job) run() error {
	m, err := row.Decode(j.msg.Value)
	if err != nil {
		return j.deadLetter(dlq.Malformed, err.Error())
	}
	r, ok := j.h.activations[m.Activation]
	if !ok {
		return j.deadLetter(dlq.UnknownActivation, fmt.Sprintf("activation %q is not in this consumer's activation file; add it, then redrive", m.Activation))
	}
	inv, err := r.mapper.Map(m.Row)
	if err != nil {
		return j.deadLetter(dlq.InvalidRow, err.Error())
	}
	j.route, j.inv = r, inv
	j.owner = fmt.Sprintf("%s/%d/%d/%08x", j.h.cfg.Owner, j.msg.Partition, j.msg.Offset, rand.Uint32())
	return j.send()
}

// send loops until the invitation has an outcome. A reservation is held only around the
// call itself: a message waiting for its destination's budget holds none, so a crash
// during the wait is not an unknown outcome.
func (j *job) send() error {
	d := j.route.dest
	haveSlot := false // a rate-limit slot taken by a wait, not yet used by a call
	limiterDown := 0  // Redis failures of the rate limiter in a row
	for {
		probe, err := j.route.gate.enter(j.waits)
		if err != nil {
			return errAbandoned
		}
		status, unknown, err := j.reserve(probe)
		if err != nil {
			return err
		}
		switch {
		case status == ledger.Duplicate:
			j.h.metrics.Messages.WithLabelValues(metrics.OutcomeDuplicate).Inc()
			return nil
		case status == ledger.UnknownOutcome:
			// Policy dlq: an operator decides. The mark stays, so every later message
			// with this reference (a replay, an upstream retry) is dead-lettered too,
			// never sent, until the operator clears it.
			return j.deadLetterUnknown()
		case status != ledger.Reserved:
			continue
		case unknown && j.failures >= j.h.cfg.MaxAttempts:
			// Policy resend, but this message's own calls stayed ambiguous: stop, and
			// leave the reference marked unknown.
			if err := j.deadLetterUnknown(); err != nil {
				return err
			}
			return j.settleErr(j.h.ledger.MarkUnknown, "mark unknown")
		}

		if !haveSlot {
			wait, err := j.h.limiter.Acquire(j.waits, d.Name, d.Limits)
			if err == nil && wait == 0 {
				j.h.metrics.RateLimitWait.WithLabelValues(d.Name).Observe(0)
			} else {
				// Wait for the budget without the reservation, then start over.
				j.releaseAfterWait(probe)
				if err == nil {
					var waited time.Duration
					waited, err = j.h.limiter.Wait(j.waits, d.Name, d.Limits)
					j.h.metrics.RateLimitWait.WithLabelValues(d.Name).Observe(waited.Seconds())
				}
				switch {
				case err == nil:
					haveSlot, limiterDown = true, 0
				case errors.Is(err, ratelimit.ErrUnavailable):
					if limiterDown == 0 {
						j.h.log.Warn().Err(err).Str("destination", d.Name).Msg("rate limiter unavailable: waiting for Redis")
					}
					if err := j.pauseFor(j.h.backoff(limiterDown)); err != nil {
						return err
					}
					limiterDown++
				default:
					return errAbandoned
				}
				continue
			}
		}
		haveSlot, limiterDown = false, 0
		if done, err := j.outcome(j.call(), probe); done {
			return err
		}
	}
}

// deadLetterUnknown dead-letters the message as unknown_outcome.
func (j *job) deadLetterUnknown() error {
	reason := "an earlier attempt called Trustpilot and its answer was lost; check the invitation history for reference " +
		j.inv.ReferenceNumber + "; if it is missing, clear the reference's unknown mark in the ledger and redrive"
	if j.lastErr != nil {
		reason += " (last error: " + j.lastErr.Error() + ")"
	}
	return j.deadLetter(dlq.UnknownOutcome, reason)
}

// call sends the invitation once, cut off before the lease ends.
func (j *job) call() error {
	d := j.route.dest
	ctx, cancel := context.WithTimeout(j.ctx, j.h.cfg.Lease*9/10)
	defer cancel()
	j.attempts++
	start := time.Now()
	err := d.Client.CreateEmailInvitation(ctx, d.BusinessUnitID, j.inv)
	j.h.metrics.RequestDuration.WithLabelValues(d.Name).Observe(time.Since(start).Seconds())
	j.h.metrics.Requests.WithLabelValues(d.Name, statusCode(err)).Inc()
	return err
}

// outcome acts on a call's result. done reports whether the message has its outcome
// (err nil) or must stop (err set); otherwise the caller tries again.
func (j *job) outcome(callErr error, probe bool) (done bool, err error) {
	g := j.route.gate
	switch {
	case callErr == nil:
		g.works()
		if err := j.confirm(); err != nil {
			return true, err
		}
		j.h.metrics.Messages.WithLabelValues(metrics.OutcomeSent).Inc()
		return true, nil
	case trustpilot.Ambiguous(callErr):
		g.works()
		j.lastErr = callErr
		j.failed()
		j.h.log.Warn().Err(callErr).Str("destination", j.route.dest.Name).Int64("offset", j.msg.Offset).Msg("ambiguous answer: the reference is marked unknown")
		if err := j.settleErr(j.h.ledger.MarkUnknown, "mark unknown"); err != nil {
			return true, err
		}
		// The next reserve answers UnknownOutcome and the policy decides; a resend
		// backs off first, like any retry.
		if j.h.cfg.UnknownOutcome == PolicyResend {
			if err := j.pauseFor(j.h.backoff(j.failures)); err != nil {
				return true, err
			}
		}
		return false, nil
	case errors.Is(callErr, trustpilot.ErrRejected):
		g.works()
		if err := j.deadLetter(dlq.Rejected, callErr.Error()); err != nil {
			return true, err
		}
		return true, j.settleErr(j.h.ledger.Forget, "forget")
	case errors.Is(callErr, trustpilot.ErrDestinationBroken):
		if err := j.settleErr(j.h.ledger.Release, "release"); err != nil {
			return true, err
		}
		if paused, _ := g.state(); !paused || probe {
			j.h.log.Error().Err(callErr).Str("destination", j.route.dest.Name).Msg("destination paused: its messages are held until it works again")
		}
		g.pause(callErr.Error())
		return false, nil
	}
	// Rate limited or transient: Trustpilot did not take it; retry within the budget.
	g.works()
	j.lastErr = callErr
	j.failed()
	if err := j.settleErr(j.h.ledger.Release, "release"); err != nil {
		return true, err
	}
	var retryAfter time.Duration
	if apiErr := (*trustpilot.APIError)(nil); errors.As(callErr, &apiErr) {
		retryAfter = apiErr.RetryAfter
	}
	wait := max(j.h.backoff(j.failures), retryAfter)
	if errors.Is(callErr, trustpilot.ErrRateLimited) {
		// Slow the destination down for every replica; if Redis cannot say so, the
		// backoff below still slows this message.
		_, _ = j.h.limiter.Throttled(j.waits, j.route.dest.Name, retryAfter)
	}
	if j.failures >= j.h.cfg.MaxAttempts || time.Since(j.failingSince)+wait > j.h.cfg.MaxElapsed {
		reason := fmt.Sprintf("gave up after %d call(s), failing for %s: %v", j.attempts, time.Since(j.failingSince).Round(time.Millisecond), callErr)
		return true, j.deadLetter(dlq.RetriesExhausted, reason)
	}
	j.h.metrics.Messages.WithLabelValues(metrics.OutcomeRetried).Inc()
	if err := j.pauseFor(wait); err != nil {
		return true, err
	}
	return false, nil
}

// failed counts a call against the retry budget.
func (j *job) failed() {
	if j.failures == 0 {
		j.failingSince = time.Now()
	}
	j.failures++
}

// reserve asks the ledger for the reference until it answers, waiting out Busy holders
// and Redis outages with growing backoff. A Busy holder is asked again before its lease
// ends (it usually settles long before), a Redis outage is logged once. Under policy
// resend an unknown outcome is taken over for this attempt (unknown true); under policy
// dlq it is answered as is.
func (j *job) reserve(probe bool) (status ledger.Status, unknown bool, err error) {
	d, ref := j.route.dest, j.inv.ReferenceNumber
	for waits := 0; ; waits++ {
		res, err := j.h.ledger.Reserve(j.waits, d.BusinessUnitID, ref, j.owner)
		if err == nil && res.Status == ledger.UnknownOutcome && j.h.cfg.UnknownOutcome == PolicyResend {
			unknown = true
			res, err = j.h.ledger.TakeOver(j.waits, d.BusinessUnitID, ref, j.owner)
		}
		switch {
		case err != nil && !errors.Is(err, ledger.ErrUnavailable):
			if probe {
				j.route.gate.probeEnded()
			}
			if j.waits.Err() != nil {
				return 0, false, errAbandoned
			}
			return 0, false, fmt.Errorf("ledger: %w", err) // needs an operator; the message is held
		case err != nil:
			if waits == 0 {
				j.h.log.Warn().Err(err).Msg("ledger unavailable: waiting for Redis")
			}
			if err := j.pauseFor(j.h.backoff(waits)); err != nil {
				return 0, false, err
			}
		case res.Status == ledger.Busy:
			if err := j.pauseFor(max(min(res.Wait, j.h.backoff(waits)), time.Millisecond)); err != nil {
				return 0, false, err
			}
		default:
			if probe && res.Status != ledger.Reserved {
				j.route.gate.probeEnded()
			}
			return res.Status, unknown, nil
		}
	}
}

// releaseAfterWait drops the reservation before a wait or after giving one up. A failure
// leaves the reservation to this attempt (Reserve by the same owner answers Reserved
// even after the lease), or, if the process dies meanwhile, a false unknown outcome:
// no call was made under it.
func (j *job) releaseAfterWait(probe bool) {
	if probe {
		j.route.gate.probeEnded()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(j.ctx), 5*time.Second)
	defer cancel()
	_ = j.h.ledger.Release(ctx, j.route.dest.BusinessUnitID, j.inv.ReferenceNumber, j.owner)
}

// confirm records the 2xx, retrying while Redis is unavailable until ctx ends.
func (j *job) confirm() error {
	d := j.route.dest
	for tries := 0; ; tries++ {
		err := j.h.ledger.Confirm(j.ctx, d.BusinessUnitID, j.inv.ReferenceNumber, j.owner)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ledger.ErrLeaseLost):
			j.h.log.Warn().Err(err).Str("destination", d.Name).Msg("sent after the reservation was lost; another worker may have acted on it")
			return nil
		case errors.Is(err, ledger.ErrUnavailable):
			if err := sleep(j.ctx, j.h.backoff(tries)); err != nil {
				return fmt.Errorf("sent but not confirmed: %w", err)
			}
		default:
			return fmt.Errorf("sent but not confirmed: %w", err)
		}
	}
}

// settleErr runs a ledger settlement, retrying while Redis is unavailable. A lost lease
// is not an error here: the settlement's purpose is moot.
func (j *job) settleErr(op func(context.Context, string, string, string) error, name string) error {
	d := j.route.dest
	for tries := 0; ; tries++ {
		err := op(j.ctx, d.BusinessUnitID, j.inv.ReferenceNumber, j.owner)
		switch {
		case err == nil, errors.Is(err, ledger.ErrLeaseLost):
			return nil
		case errors.Is(err, ledger.ErrUnavailable):
			if err := sleep(j.ctx, j.h.backoff(tries)); err != nil {
				return errAbandoned
			}
		default:
			return fmt.Errorf("ledger %s: %w", name, err)
		}
	}
}

// deadLetter writes the message to the DLQ, retrying until it is stored or the consumer
// stops waiting.
func (j *job) deadLetter(class dlq.Class, reason string) error {
	rec := dlq.Record{Class: class, Reason: reason, Attempts: j.attempts, FailedAt: time.Now(), Source: j.msg}
	for tries := 0; ; tries++ {
		err := j.h.dead.Write(j.ctx, rec)
		if err == nil {
			break
		}
		j.h.log.Error().Err(err).Msg("dead-letter write failed; retrying (the offset does not move)")
		if err := j.pauseFor(j.h.backoff(tries)); err != nil {
			return err
		}
	}
	j.h.metrics.Messages.WithLabelValues(metrics.OutcomeDLQ).Inc()
	j.h.log.Warn().Str("class", string(class)).Str("reason", reason).Str("key", string(j.msg.Key)).
		Int("partition", j.msg.Partition).Int64("offset", j.msg.Offset).Msg("dead-lettered")
	return nil
}

// backoff is the delay after n failed tries in a row: exponential in n up to BackoffMax,
// full jitter.
func (h *Handler) backoff(n int) time.Duration {
	ceiling := h.cfg.Backoff << min(n, 20)
	if ceiling > h.cfg.BackoffMax || ceiling <= 0 {
		ceiling = h.cfg.BackoffMax
	}
	return h.cfg.Backoff/2 + rand.N(ceiling)
}

// pauseFor waits d unless the consumer starts draining.
func (j *job) pauseFor(d time.Duration) error {
	if err := sleep(j.waits, d); err != nil {
		return errAbandoned
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// statusCode is the code label of a call: the HTTP status, or "error" without one.
func statusCode(err error) string {
	if err == nil {
		return "2xx"
	}
	var e *trustpilot.APIError
	if errors.As(err, &e) && e.Status != 0 {
		return strconv.Itoa(e.Status)
	}
	return "error"
}
