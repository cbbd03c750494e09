// Package config reads invitepipe's settings from INVITEPIPE_* environment variables.
//
// Invariants:
//   - Every variable has its full name in its struct tag and is read only under that
//     name: an unprefixed LOG_LEVEL or KAFKA_BROKERS in a pod's environment is never
//     picked up by accident.
//   - Load never panics. It returns every problem at once, each naming the variable and
//     the fix, so a bad deployment stops at start with one actionable message.
//   - A list variable (List, Strings) is comma-separated; items are trimmed and blank
//     ones skipped, so an empty value is an empty list; a value replaces the default.
//   - A variable's flag tag names the command-line flag that overrides it (Vars lists
//     both); such a command reads the environment with Read and validates after its
//     flags.
//   - String never reveals a secret: passwords, in variables or inside URLs, print as
//     "REDACTED".
package config
