// Package demo runs the whole pipeline in one process, the way `make run` shows it to a
// newcomer: the producer reads an activation file's CSV sources into a rows topic, the
// consumer delivers them to a Trustpilot API, and a summary says what became of every
// row, per destination. Any of Kafka, Redis and Trustpilot is embedded (package
// embedded, and the sandbox) unless Options points it at a real one.
//
// Invariants:
//   - The real code paths only: rows reach Kafka through package producer (its csv
//     source and its diff state in Redis) and Trustpilot through the consumer's own
//     wiring (package wiring: consumer, deliver, ledger, rate limiter, dead letters).
//     Nothing publishes or sends a row on the producer's or the consumer's behalf.
//   - Run reports only once every emitted row has its outcome (sent, duplicate or
//     dead-lettered) and the group's committed offsets have reached the end of the rows
//     topic; it waits on those conditions, bounded by Options.Timeout, never on a sleep.
//   - The summary's numbers are the pipeline's own: sent is the destination's successful
//     calls (invitepipe_trustpilot_requests_total), dead-lettered counts the records the
//     Handler wrote to the dead-letter topic, by class, and duplicates are the rest of
//     the destination's rows, checked against invitepipe_messages_total{outcome=duplicate}.
//   - Secrets never leave the process: against the embedded sandbox the API keys and
//     secrets the activation file names are made up per run and handed to the consumer
//     through its lookup function, never through the environment, and never printed.
//   - The embedded sandbox runs at the demo's time scale: a destination can be throttled
//     (429) for seconds, and the rate limiter's cool-downs and learned cap are scaled
//     down to match (at most 2 s, a 1 s window), so a throttled destination recovers in
//     seconds, not minutes. Against a real Trustpilot the limiter keeps production's
//     settings and nothing is throttled on purpose.
//   - Against a real Kafka the demo creates its own rows and dead-letter topics and
//     consumer group, named per run, so earlier runs' messages never count.
package demo
