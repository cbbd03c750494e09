package deliver

import (
	"errors"
	"strconv"
	"time"

	"github.com/invitepipe/invitepipe/internal/dlq"
	"github.com/invitepipe/invitepipe/internal/lane"
	"github.com/invitepipe/invitepipe/internal/metrics"
	"github.com/invitepipe/invitepipe/internal/trustpilot"
)

// outcome acts on a call's result: nil once the message has its outcome, a *lane.Wait
// when it must wait (its destination's, or its own retry), another error when it had to
// stop.
//
//	answer                        | destination                  | the message
//	2xx                           | works; 429 escalation ends   | confirmed: sent
//	ambiguous (no answer, 502/504)| works                        | marked unknown; policy decides
//	400, 415                      | works                        | dead-lettered: rejected
//	401 after re-mint, 403, 404   | paused (one probe/interval)  | waits on the lane: no failure counted
//	429                           | key cools down (all replicas)| waits on the lane: no failure counted
//	5xx, timeout, network         | works                        | its own retry, counted; past the budget: retries_exhausted
func (j *job) outcome(callErr error, probe bool) error {
	g, d := j.route.gate, j.route.dest
	switch {
	case callErr == nil:
		g.works()
		_ = j.h.limiter.Recovered(j.ctx, d.Budget.Key)
		if err := j.confirm(); err != nil {
			return err
		}
		j.h.tries.done(j.msg)
		j.h.metrics.Messages.WithLabelValues(metrics.OutcomeSent).Inc()
		return nil
	case trustpilot.Ambiguous(callErr):
		g.works()
		j.try.failed(callErr)
		j.h.log.Warn().Err(callErr).Str("destination", d.Name).Int64("offset", j.msg.Offset).Msg("ambiguous answer: the reference is marked unknown")
		if err := j.settleErr(j.h.ledger.MarkUnknown, "mark unknown"); err != nil {
			return err
		}
		if j.h.cfg.UnknownOutcome == PolicyDLQ {
			return j.deadLetterUnknown()
		}
		// Policy resend: the next try takes the reference over, after a backoff.
		return j.retryAt(time.Now().Add(j.h.backoff(j.try.failures)), false)
	case errors.Is(callErr, trustpilot.ErrRejected):
		g.works()
		if err := j.deadLetter(dlq.Rejected, callErr.Error()); err != nil {
			return err
		}
		return j.settleErr(j.h.ledger.Forget, "forget")
	case errors.Is(callErr, trustpilot.ErrDestinationBroken):
		if err := j.settleErr(j.h.ledger.Release, "release"); err != nil {
			return err
		}
		if paused, _ := g.state(); !paused || probe {
			j.h.log.Error().Err(callErr).Str("destination", d.Name).Msg("destination paused: its messages wait until it works again")
		}
		j.h.tries.keep(j.msg, j.try)
		return g.pause(callErr.Error(), j.backfill)
	}
	if err := j.settleErr(j.h.ledger.Release, "release"); err != nil {
		return err
	}
	var retryAfter time.Duration
	if apiErr := (*trustpilot.APIError)(nil); errors.As(callErr, &apiErr) {
		retryAfter = apiErr.RetryAfter
	}
	if errors.Is(callErr, trustpilot.ErrRateLimited) {
		// The key's condition, not the row's: every replica and every destination on
		// the key cools down; the message keeps its retry budget.
		left, err := j.h.limiter.Throttled(j.ctx, d.Budget.Key, retryAfter)
		if err != nil || left <= 0 {
			left = max(retryAfter, j.h.backoff(0)) // Redis could not say: slow down here
		}
		j.h.metrics.Messages.WithLabelValues(metrics.OutcomeRetried).Inc()
		j.h.tries.keep(j.msg, j.try)
		return g.hold(time.Now().Add(left), lane.Cooling, j.backfill)
	}
	// The row's own transient failure (the destination answered): retried within its
	// budget.
	g.works()
	j.try.failed(callErr)
	wait := max(j.h.backoff(j.try.failures), retryAfter)
	if j.try.failures >= j.h.cfg.MaxAttempts || time.Since(j.try.failingSince)+wait > j.h.cfg.MaxElapsed {
		return j.deadLetter(dlq.RetriesExhausted, "gave up after "+strconv.Itoa(j.try.attempts)+" call(s), failing for "+
			time.Since(j.try.failingSince).Round(time.Millisecond).String()+": "+callErr.Error())
	}
	j.h.metrics.Messages.WithLabelValues(metrics.OutcomeRetried).Inc()
	return j.retryAt(time.Now().Add(wait), false)
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
