package deliver

import (
	"time"

	"github.com/invitepipe/invitepipe/internal/dlq"
	"github.com/invitepipe/invitepipe/internal/metrics"
)

// deadLetterUnknown dead-letters the message as unknown_outcome.
func (j *job) deadLetterUnknown() error {
	reason := "an earlier attempt called Trustpilot and its answer was lost; check the invitation history for reference " +
		j.inv.ReferenceNumber + "; if it is missing, clear the reference's unknown mark in the ledger and redrive"
	if j.try.lastErr != nil {
		reason += " (last error: " + j.try.lastErr.Error() + ")"
	}
	return j.deadLetter(dlq.UnknownOutcome, reason)
}

// deadLetter writes the message to the DLQ, retrying until it is stored or the consumer
// stops waiting. Until it is stored the message has no outcome and its offset does not
// move.
func (j *job) deadLetter(class dlq.Class, reason string) error {
	rec := dlq.Record{Class: class, Reason: reason, Attempts: j.try.attempts, FailedAt: time.Now(), Source: j.msg}
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
	j.h.tries.done(j.msg)
	j.h.metrics.Messages.WithLabelValues(metrics.OutcomeDLQ).Inc()
	j.h.log.Warn().Str("class", string(class)).Str("reason", reason).Str("key", string(j.msg.Key)).
		Int("partition", j.msg.Partition).Int64("offset", j.msg.Offset).Msg("dead-lettered")
	return nil
}
