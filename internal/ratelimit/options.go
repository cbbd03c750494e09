package ratelimit

import (
	"fmt"
	"strings"
	"time"
)

// Defaults applied to zero Options fields.
const (
	DefaultKeyPrefix    = "invitepipe:ratelimit:"
	DefaultMargin       = 250 * time.Millisecond
	DefaultJitter       = 10 * time.Millisecond
	DefaultCooldownBase = 250 * time.Millisecond
	DefaultCooldownMax  = 5 * time.Minute
	DefaultCapWindow    = 5 * time.Minute
	DefaultFreshGrace   = time.Second
)

// Options configures a Limiter. The zero value of every field means its default; every
// replica sharing an API key must use the same KeyPrefix, Margin and CapWindow.
type Options struct {
	// KeyPrefix starts every Redis key of the limiter. Default DefaultKeyPrefix
	// ("invitepipe:ratelimit:"). Must not contain '{' or '}': the API key (Budget.Key) is
	// the keys' hash tag.
	KeyPrefix string

	// Margin is added to every window: a limit of N per W lets at most N slots be taken
	// in any W+Margin on the Redis clock. It absorbs the difference between the delays of
	// two calls from taking their slot to reaching Trustpilot, which is counted there, so
	// no window of length W at Trustpilot sees N+1 calls while that difference stays below
	// Margin. Its cost is Margin/W of the budget (0.08% of a 5-minute window).
	// Default DefaultMargin (250ms). Must not be negative.
	Margin time.Duration

	// Jitter is the upper bound of a random delay added to each sleep of Wait, so that
	// replicas waiting for the same slot do not all ask Redis at the same instant.
	// Default DefaultJitter (10ms). Must not be negative.
	Jitter time.Duration

	// CooldownBase is the cool-down Throttled imposes after a 429 without Retry-After
	// that ends no escalation: the first since a success on the key (Recovered), or since
	// CooldownMax has passed after the key's last cool-down ended. Each further such 429
	// after a cool-down has ended, with no success in between, doubles it. Default
	// DefaultCooldownBase (250ms: an isolated 429 costs the key little; 429s in a row
	// double it quickly). Must not be negative.
	CooldownBase time.Duration

	// CooldownMax caps the cool-downs of Throttled, and is how long after a cool-down
	// ends the next 429 still escalates when no success was reported meanwhile. Default
	// DefaultCooldownMax (5m). Must not be negative, nor below CooldownBase.
	CooldownMax time.Duration

	// CapWindow is the window of the key's learned cap (doc.go, "Learned cap"): under
	// persistent throttling (at least 3 429s without Retry-After in the last
	// CapWindow+Margin among at least 20 calls, on 5% of the key's calls or 3 in a row)
	// the cap becomes 9/10 of the calls Trustpilot accepted in that window; it regains
	// the cut in one CapWindow, then grows ever faster. The key's log keeps at least CapWindow+Margin of slots.
	// Default DefaultCapWindow (5m, Trustpilot's shortest window). Must not be negative;
	// at least 1ms when set.
	CapWindow time.Duration

	// FreshGrace is how long past the wait it was given a fresh call's refusal keeps
	// backfill calls (Budget.Backfill) of its key or destination out: the time its
	// waiting calls have to come back and take the slots that free (doc.go, "Fresh
	// first"). Default DefaultFreshGrace (1s). Must not be negative.
	FreshGrace time.Duration
}

// withDefaults returns o with its zero fields set to their defaults, or an error naming
// the first field that is out of range and the fix.
func (o Options) withDefaults() (Options, error) {
	durations := []struct {
		name  string
		value *time.Duration
		def   time.Duration
	}{
		{"Margin", &o.Margin, DefaultMargin},
		{"Jitter", &o.Jitter, DefaultJitter},
		{"CooldownBase", &o.CooldownBase, DefaultCooldownBase},
		{"CooldownMax", &o.CooldownMax, DefaultCooldownMax},
		{"CapWindow", &o.CapWindow, DefaultCapWindow},
		{"FreshGrace", &o.FreshGrace, DefaultFreshGrace},
	}
	for _, d := range durations {
		if *d.value < 0 {
			return o, fmt.Errorf("%w: Options.%s is %v; want 0 (default %v) or more", ErrInvalid, d.name, *d.value, d.def)
		}
		if *d.value == 0 {
			*d.value = d.def
		}
	}
	if o.CooldownMax < o.CooldownBase {
		return o, fmt.Errorf("%w: Options.CooldownMax (%v) is below Options.CooldownBase (%v); raise CooldownMax or lower CooldownBase",
			ErrInvalid, o.CooldownMax, o.CooldownBase)
	}
	if o.CapWindow < time.Millisecond {
		return o, fmt.Errorf("%w: Options.CapWindow is %v; want 0 (default %v) or at least 1ms", ErrInvalid, o.CapWindow, DefaultCapWindow)
	}
	if strings.ContainsAny(o.KeyPrefix, "{}") {
		return o, fmt.Errorf("%w: Options.KeyPrefix %q contains '{' or '}'; remove them (the API key is the keys' hash tag)", ErrInvalid, o.KeyPrefix)
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	return o, nil
}
