// Package trustpilot is a client for the parts of Trustpilot's API that
// invitepipe uses: OAuth tokens, email invitations, invitation templates and
// business-unit lookup.
//
// Trustpilot serves these on two hosts (Config.APIBaseURL for tokens and
// business-unit lookup, Config.InvitationsBaseURL for everything about
// invitations); calling an invitation path on the API host answers 404.
//
// # Invariants
//
//   - One mint at a time. A TokenSource caches its access token until shortly
//     before it expires and never runs two mints concurrently: callers that
//     need a token while a mint is in flight wait for that mint. A failed mint
//     is not cached; the next caller starts a new one. A caller whose context
//     ends stops waiting, but the mint goes on for the others.
//   - A 401 re-mints once. A call answered 401 invalidates the token it used
//     (only if that token is still the cached one, so many concurrent 401s
//     cause one re-mint) and is sent once more with a fresh token. A second
//     401 is ClassDestinationBroken.
//   - Nothing is retried but the 401. Backoff, Retry-After and retry budgets
//     belong to the caller, which learns what to do from the error's class.
//     A call that fails in transit may still have reached Trustpilot, and
//     Trustpilot has no idempotency key: retrying may send an invitation
//     twice, which is why the caller keeps a ledger.
//   - Every error is one of four classes. Every error returned by a call is an
//     *APIError whose Class is ClassRejected, ClassDestinationBroken,
//     ClassRateLimited or ClassTransient, matched by errors.Is with ErrRejected,
//     ErrDestinationBroken, ErrRateLimited and ErrTransient. The one exception
//     is the caller's own context ending: that error wraps ctx.Err() (so
//     errors.Is(err, context.Canceled) holds), has no class and is not
//     retryable, because the caller chose to stop and nothing was learned
//     about Trustpilot. Config.RequestTimeout elapsing, by contrast, is
//     ClassTransient. (New and NewTokenSource return plain validation errors.)
//   - The status decides the class; the body only explains it. Error bodies
//     are not assumed to be JSON: the message, error code and correlation id
//     are taken from whichever shape arrived (JSON in three known shapes, an
//     HTML page's title, or nothing).
//   - Secrets never leave the package. API key, API secret, password and
//     tokens are removed from every error string, and the consumer's email
//     address is replaced in error bodies echoed back by Trustpilot. Nothing
//     in this package logs.
//
// A Client and a TokenSource are safe for concurrent use. The package has no
// mutable package-level state; time comes from Config.Now so tests can drive
// token expiry.
package trustpilot
