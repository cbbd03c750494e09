// Package destination turns the destinations of an activation file into Trustpilot
// clients: it reads each destination's secrets from the environment variables the file
// names and builds one client (one token cache) per destination.
//
// Invariants:
//   - Every variable a destination names must be set and non-blank; Build reports every
//     missing one at once, by destination and variable, and never prints a value.
//   - The password grant is used exactly when the file names username_env and
//     password_env; otherwise client_credentials.
//   - Rate limits are the file's (defaults applied by package activation), as windows of
//     5 minutes and 1 hour plus the further windows the file lists, all applied at once.
package destination
