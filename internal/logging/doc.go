// Package logging builds invitepipe's zerolog loggers and masks personal data in them.
//
// Invariants:
//   - Logs are JSON, one object per line, on the writer given (stdout in the binary),
//     with an RFC 3339 UTC timestamp.
//   - A consumer's email address is never logged in clear: callers log MaskEmail(addr),
//     which keeps the first character and the domain (a***@example.com), enough to tell
//     rows apart in an incident without exposing the person.
package logging
