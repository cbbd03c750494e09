// Package destination turns the destinations of an activation file into Trustpilot
// clients: it reads each destination's secrets from the environment variables the file
// names and builds one client (one token cache) and one call budget per destination.
//
// Invariants:
//   - Every variable a destination names must be set and non-blank; Build reports every
//     missing one at once, by destination and variable, and never prints a value.
//   - The password grant is used exactly when the file names username_env and
//     password_env; otherwise client_credentials.
//   - Trustpilot counts calls per API key, so every destination whose API key has the
//     same value (not the same variable name) shares one key budget: for each window
//     length, the smallest count that any of them declares in credentials.rate_limit
//     (which defaults to its rate_limit; defaults applied by package activation). Each
//     destination's own rate_limit is an extra cap on it alone, kept only where no key
//     window at least as long allows at most as many calls. All windows apply at once.
//   - A window of ratelimit.Unlimited calls or more means no limit: it is never enforced.
//   - A key is named by a hash of its value (Budget.Key, KeyBudget.Key), never by the
//     value: the name appears in Redis keys, logs and the output of check.
package destination
