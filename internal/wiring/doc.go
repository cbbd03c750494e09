// Package wiring wires the consumer's parts as `invitepipe consume` runs them: the
// destinations of an activation file, the Kafka connection, the Redis client, the ledger,
// the rate limiter, the offset progress store, the dead-letter writer, the deliver
// Handler and the Consumer, on one metrics registry.
//
// Invariants:
//   - One wiring for every caller: the consume command and the demo run the same parts
//     with the same settings from config.Consumer; only Options may differ (the
//     limiter's time scale, the owner name, where secrets are looked up).
//   - New either returns every part or none: a part that fails closes the ones built
//     before it.
//   - Close closes what New opened (the dead-letter writer, the Redis client); the
//     caller stops the Consumer first by ending its Run's context.
package wiring
