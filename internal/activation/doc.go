// Package activation loads and validates the activation file: destinations (a Trustpilot
// business unit and the names of the variables holding its credentials) and activations
// (which rows go to which destination and how a row becomes an invitation).
//
// Invariants:
//   - A File returned by Load or Parse is valid: it matched schemas/activations.v1.schema.json
//     and passed the semantic checks (unique names, known destinations, an invitation type
//     for every activation, SKUs for product invitations, absolute https URLs, valid
//     emails). Every other package may rely on that without checking again.
//   - An invalid file yields a *ValidationError listing every problem found, each with its
//     path in the file, e.g. "activations[1].mapping.consumer_email: required".
//   - Defaults are applied once, here: a destination without rate_limit gets Trustpilot's
//     guidance (833 calls per 5 minutes, 10,000 per hour). Further windows
//     (rate_limit.windows, each from 1s to 24h) add to those two, never replace them.
//   - A destination's credentials.rate_limit is the budget of its API key, with the same
//     shape and defaults; absent, it is a copy of the destination's rate_limit. After
//     Load it is never nil. How destinations sharing a key combine their key budgets is
//     package destination's (it alone reads the keys).
//   - Counts go from 1 to 10^15; ratelimit.Unlimited (1,000,000) or more means no limit
//     in that window. The file keeps them as written.
//   - An activation's max_age (Activation.MaxAge) is zero when absent (rows never age),
//     else at least MinMaxAge; it accepts d (24 hours) besides h, m and s.
//   - The file never holds secrets, only the names of environment variables.
package activation
