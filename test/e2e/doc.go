// Package e2e runs the real invitepipe binary against a real Kafka broker, a real
// redis-server and the Trustpilot sandbox, and checks the consumer's promises end to
// end: every valid row becomes exactly one invitation, every bad row is dead-lettered
// with its reason and original bytes, and the group's offsets reach the end, through
// crashes, rebalances, Redis restarts, broken destinations, rate limits and shutdowns.
//
// The tests need the services of scripts/services (see internal/testenv); with CI=true a
// missing service fails them.
package e2e
