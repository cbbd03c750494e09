// Package lane names why a message cannot be handled now: its destination (its lane) is
// paused, cooling down after 429s, or out of budget, or the message itself waits to be
// retried. A handler returns a *Wait instead of an outcome; the consumer then keeps the
// message aside, holding no slot, and hands it over again once the wait is over.
//
// Invariants:
//   - A *Wait is never an outcome: the message's offset is not committed past.
//   - A lane's wait (Paused, Cooling, Budget) holds back only that lane's messages; a
//     message's own wait (Retry) holds back only that message.
//   - A destination's rows marked as a backfill wait in a lane of their own
//     (Backfill(destination)), so a backfill held back for the destination's fresh rows
//     holds back nothing else.
//   - Until is the earliest time trying again can succeed; trying earlier is wasted work,
//     never harm.
package lane
