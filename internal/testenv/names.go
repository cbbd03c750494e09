package testenv

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// maxNameLen keeps names well under Kafka's 249-character topic limit.
const maxNameLen = 120

// UniqueName returns prefix, the test's name and a random suffix joined by dashes, using
// only characters valid in Kafka topic and group names and in Redis keys, e.g.
// "rows-TestConsumer-retries-3f9a01c2".
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	test := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		default:
			return '-'
		}
	}, t.Name())
	name := prefix + "-" + test
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	return fmt.Sprintf("%s-%08x", name, rand.Uint32())
}
