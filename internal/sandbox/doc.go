// Package sandbox is a local simulator of the Trustpilot API, faithful to the real API
// including its quirks (internal/sandbox/README.md lists them). It serves every test of invitepipe,
// the demo, and users' staging environments (command `invitepipe sandbox`).
//
// Embedding it in a test:
//
//	cfg := sandbox.DefaultConfig()
//	cfg.SendDelay = 0
//	sb, err := sandbox.New(cfg, sandbox.WithClock(clock.Now))
//	srv := httptest.NewServer(sb.Handler())
//	defer srv.Close()
//	defer sb.Close() // runs first: releases requests held by timeout faults
//	// point both the API URL and the invitations URL at srv.URL, then assert on
//	// sb.Invitations(buID, ref), sb.Stats(), or GET /_sandbox/... over HTTP.
//
// # Endpoints
//
// Both Trustpilot hosts' paths are served on one address. Calling an invitations path
// on the api host (a 404 in reality) cannot be told apart here, so that mistake is not
// simulated: clients must keep the two base URLs configurable.
//
//	POST /v1/oauth/oauth-business-users-for-applications/accesstoken   tokens (api host)
//	POST /v1/oauth/oauth-business-users-for-applications/refresh       refresh_token grant
//	GET  /v1/business-units/find?name=DOMAIN                           header apikey
//	POST /v1/private/business-units/{id}/email-invitations             202, empty body
//	GET  /v1/private/business-units/{id}/templates                     {"templates":[...]}
//	POST /v1/private/business-units/{id}/invitation-links              {"id","url"}
//	POST /v1/private/business-units/{id}/invitation-data/delete        200, empty body
//	GET  /                          Invitation history page (HTML, emails masked)
//	GET  /_sandbox/invitations      []Invitation; filters business_unit, reference
//	GET  /_sandbox/stats            Stats
//	POST /_sandbox/reset            Reset (204)
//	GET  /_sandbox/faults           Faults in force
//	PUT  /_sandbox/faults           replace them (400 if invalid, nothing changed)
//
// # Invariants
//
//   - An invitation is recorded only when its call is answered 202, or by an
//     accept-then-fail fault (FaultAcceptThen500, FaultAcceptThenTimeout), whose call
//     takes effect and then fails. No other fault, forced status, rate limit or
//     validation error ever records one.
//   - Invitation-host calls pass, in this order: latency; 401 (missing, unknown or
//     expired Bearer token); 429 (rate limit of the token's API key); a forced status
//     of the business unit; a random fault; 403 errorCode 1014 (a client_credentials
//     token whose x-business-user-id is not a configured business user, when any is
//     configured; password-grant tokens carry their user and skip this check); 404
//     (unknown business unit); 415 (Content-Type not application/json); 400
//     (validation, first problem only, body {"message","errorCode","correlationId"}).
//   - Rate limits are sliding windows per API key over invitation-host calls with a
//     valid token. A call refused with 429 does not consume the budget, so at most
//     Limit calls are let through in any window (t-Window, t]. Token mints have their
//     own window per key (Config.MintLimit), all grants together.
//   - Status changes happen at send time, lazily: every operation first sends what is
//     due at the clock's now, in send-time order. An invitation is notsent until
//     SendAt, then sent, or suppressed when the same business unit sent the same email
//     (case-insensitively) less than FrequencyDays before (the account's frequency
//     rule, applied at send time as Trustpilot does). With a fake clock (WithClock)
//     every transition is exact and repeatable.
//   - Secrets, tokens and whole consumer emails are never logged.
//
// # Choices where the real API is undocumented
//
// Error bodies follow shapes seen from the real API: the invitations API's
// {"message","errorCode","correlationId"} (errorCode 1014 is the only real code; the
// others are 0), the gateway's {"fault":{"faultstring":...}} for 401, 429 and 503,
// and {"ErrorCode","Error"} for token endpoint errors. Refresh tokens are single use.
// Template ids are not checked. Locale must look like ll-CC (any case); email domains
// need a dot; preferredSendTime is accepted only in the three documented UTC formats,
// and when both parts give one the service time must be strictly earlier. An
// invitation without either part is a service invitation. README.md holds a curl
// session against the real binary.
package sandbox
