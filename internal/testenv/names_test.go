package testenv_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/invitepipe/invitepipe/internal/testenv"
)

func TestUniqueName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
	tests := []struct {
		name   string
		prefix string
	}{
		{name: "plain", prefix: "rows"},
		{name: "spaces and slashes/become dashes", prefix: "group"},
		{name: strings.Repeat("long", 100), prefix: "dlq"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			first, second := testenv.UniqueName(t, tc.prefix), testenv.UniqueName(t, tc.prefix)
			if first == second {
				t.Errorf("two calls both returned %q", first)
			}
			for _, name := range []string{first, second} {
				if !strings.HasPrefix(name, tc.prefix+"-Test") || !valid.MatchString(name) || len(name) > 249 {
					t.Errorf("name %q: want prefix %q, only [a-zA-Z0-9._-], at most 249 characters", name, tc.prefix+"-Test")
				}
			}
		})
	}
}
