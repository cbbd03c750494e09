package deliver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/invitepipe/invitepipe/internal/lane"
	"github.com/invitepipe/invitepipe/internal/ledger"
	"github.com/invitepipe/invitepipe/internal/metrics"
	"github.com/invitepipe/invitepipe/internal/ratelimit"
)

// send takes the invitation as far as it can go now: through the destination's gate,
// the ledger's reservation and the budget's slot to one call, whose answer outcome acts
// on. Whatever cannot go on now is returned as a *lane.Wait, holding no reservation: only
// a crash during the call itself leaves an unknown outcome.
func (j *job) send() error {
	d := j.route.dest
	probe, w := j.route.gate.enter(time.Now(), j.backfill)
	if w != nil {
		return w
	}
	status, unknown, err := j.reserve(probe)
	if err != nil {
		return err
	}
	switch {
	case status == ledger.Duplicate:
		j.h.tries.done(j.msg)
		j.h.metrics.Messages.WithLabelValues(metrics.OutcomeDuplicate).Inc()
		return nil
	case status == ledger.UnknownOutcome:
		// Policy dlq: an operator decides. The mark stays, so every later message
		// with this reference (a replay, an upstream retry) is dead-lettered too,
		// never sent, until the operator clears it.
		return j.deadLetterUnknown()
	case status == ledger.Busy:
		// Another worker is calling for this reference; ask again before its lease ends.
		j.try.held++
		return j.retryAt(time.Now().Add(max(min(j.busyWait, j.h.backoff(j.try.held)), time.Millisecond)), probe)
	case unknown && j.try.failures >= j.h.cfg.MaxAttempts:
		// Policy resend, but this message's own calls stayed ambiguous: stop, and
		// leave the reference marked unknown.
		if err := j.deadLetterUnknown(); err != nil {
			return err
		}
		return j.settleErr(j.h.ledger.MarkUnknown, "mark unknown")
	}

	if !d.Budget.Unlimited() {
		budget := d.Budget
		budget.Backfill = j.backfill
		wait, err := j.h.limiter.Acquire(j.waits, budget)
		if err != nil || wait > 0 {
			j.releaseUnused(probe)
		}
		switch {
		case err == nil && wait > 0:
			j.h.metrics.RateLimitWait.WithLabelValues(d.Name).Observe(wait.Seconds())
			return j.route.gate.hold(time.Now().Add(wait), lane.Budget, j.backfill)
		case errors.Is(err, ratelimit.ErrUnavailable):
			if j.try.held == 0 {
				j.h.log.Warn().Err(err).Str("destination", d.Name).Msg("rate limiter unavailable: waiting for Redis")
			}
			j.try.held++
			return j.retryAt(time.Now().Add(j.h.backoff(j.try.held)), false)
		case err != nil:
			if j.waits.Err() != nil {
				return errAbandoned
			}
			return fmt.Errorf("rate limiter: %w", err) // needs an operator; the message is held
		}
		j.h.metrics.RateLimitWait.WithLabelValues(d.Name).Observe(0)
	}
	return j.outcome(j.call(), probe)
}

// retryAt defers the message alone until at, keeping its try.
func (j *job) retryAt(at time.Time, probe bool) error {
	if probe {
		j.route.gate.probeEnded()
	}
	j.h.tries.keep(j.msg, j.try)
	return j.route.gate.wait(j.backfill, at, lane.Retry)
}

// call sends the invitation once, cut off before the lease ends.
func (j *job) call() error {
	d := j.route.dest
	ctx, cancel := context.WithTimeout(j.ctx, j.h.cfg.Lease*9/10)
	defer cancel()
	j.try.attempts++
	start := time.Now()
	err := d.Client.CreateEmailInvitation(ctx, d.BusinessUnitID, j.inv)
	j.h.metrics.RequestDuration.WithLabelValues(d.Name).Observe(time.Since(start).Seconds())
	j.h.metrics.Requests.WithLabelValues(d.Name, statusCode(err)).Inc()
	return err
}

// reserve asks the ledger for the reference until it answers, waiting out Redis outages
// with growing backoff (logged once). A Busy answer is returned with busyWait set to the
// holder's lease left. Under policy resend an unknown outcome is taken over for this
// attempt (unknown true); under policy dlq it is answered as is.
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
		default:
			if probe && res.Status != ledger.Reserved && res.Status != ledger.Busy {
				j.route.gate.probeEnded()
			}
			j.busyWait = res.Wait
			return res.Status, unknown, nil
		}
	}
}

// releaseUnused drops the reservation when no call will be made under it now. On a
// failure the message keeps its owner token, so its next attempt finds the reservation
// its own (Reserve by the same owner answers Reserved even after the lease); only if the
// process dies meanwhile is it a false unknown outcome: no call was made under it.
func (j *job) releaseUnused(probe bool) {
	if probe {
		j.route.gate.probeEnded()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(j.ctx), 5*time.Second)
	defer cancel()
	if err := j.h.ledger.Release(ctx, j.route.dest.BusinessUnitID, j.inv.ReferenceNumber, j.owner); err != nil && !errors.Is(err, ledger.ErrLeaseLost) {
		j.h.tries.keep(j.msg, j.try)
	}
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

// pauseFor waits d unless the consumer starts draining. Only Redis outages and failing
// dead-letter writes wait here: they hold back every destination alike.
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
