package sandbox

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Defaults of a sandbox started without configuration. They are public on purpose: the
// sandbox is a test double and its default credentials protect nothing.
const (
	DefaultAddr           = "127.0.0.1:8089"
	DefaultAPIKey         = "sandbox-api-key"
	DefaultAPISecret      = "sandbox-api-secret"
	DefaultBusinessUnitID = "507f191e810c19729de860ea"
	DefaultDomain         = "shop.example"
	DefaultBusinessUserID = "60c72b2f9b1d8e3a4c5d6e7f"
)

// ErrInvalidConfig is wrapped by every error of Config.Validate and of the text parsers
// of the configuration types.
var ErrInvalidConfig = errors.New("invalid sandbox configuration")

// Config is the whole configuration of a sandbox. Start from DefaultConfig and change
// what the test needs: a zero value means zero (no delay, no limit), not "default".
type Config struct {
	// Addr is the address ListenAndServe listens on. Default DefaultAddr (loopback only).
	Addr string
	// Credentials are the API key/secret pairs the token endpoint accepts (HTTP Basic)
	// and whose keys the business-unit lookup accepts (header apikey). At least one.
	// Default: DefaultAPIKey:DefaultAPISecret.
	Credentials []Credential
	// BusinessUnits are the business units that exist; invitation-host calls naming
	// another one get 404. At least one. Default: DefaultBusinessUnitID=DefaultDomain.
	BusinessUnits []BusinessUnit
	// BusinessUsers are the business user ids a client_credentials token must name in
	// header x-business-user-id (else 403 errorCode 1014). Empty: the header is not
	// checked. Default: DefaultBusinessUserID.
	BusinessUsers []string
	// Users are the username/password pairs of the password grant. Empty: the password
	// grant is refused. Default: none.
	Users []User
	// TokenTTL is the lifetime of an access token; calls with an older token get 401.
	// Default 359999 s (Trustpilot's). Positive.
	TokenTTL time.Duration
	// RefreshTokenTTL is the lifetime of a refresh token (password and refresh_token
	// grants). Default 8639999 s (about 100 days; not documented by Trustpilot). Positive.
	RefreshTokenTTL time.Duration
	// MintLimit is how many tokens one API key may mint per sliding window before the
	// token endpoint answers 429. Default 10 per minute. Limit 0 disables it.
	MintLimit RateWindow
	// RateLimits are the sliding windows that limit invitation-host calls per API key;
	// a call beyond any of them gets 429. Default 833/5m and 10000/1h (Trustpilot's
	// guidance). Empty: no limit. Scale them down for tests, e.g. 50/5s.
	RateLimits []RateWindow
	// RetryAfter adds a Retry-After header (whole seconds) to rate-limit 429s, which
	// the real API does not send. Default false.
	RetryAfter bool
	// SendDelay is how long after acceptance an invitation without preferredSendTime is
	// sent (the account's delay). Default 7 days (Trustpilot's). Zero or more.
	SendDelay time.Duration
	// FrequencyDays is the account's frequency rule: an invitation whose email already
	// got one from the same business unit less than this many days before its send
	// time is suppressed when it is due. Default 365; 0 sends every invitation.
	FrequencyDays int
	// Faults are the injected faults at start and after a reset. Default: none.
	Faults Faults
}

// DefaultConfig returns the configuration of a sandbox started without flags.
func DefaultConfig() Config {
	return Config{
		Addr:            DefaultAddr,
		Credentials:     []Credential{{APIKey: DefaultAPIKey, APISecret: DefaultAPISecret}},
		BusinessUnits:   []BusinessUnit{{ID: DefaultBusinessUnitID, Domain: DefaultDomain}},
		BusinessUsers:   []string{DefaultBusinessUserID},
		TokenTTL:        359999 * time.Second,
		RefreshTokenTTL: 8639999 * time.Second,
		MintLimit:       RateWindow{Limit: 10, Window: time.Minute},
		RateLimits:      []RateWindow{{Limit: 833, Window: 5 * time.Minute}, {Limit: 10000, Window: time.Hour}},
		SendDelay:       7 * 24 * time.Hour,
		FrequencyDays:   365,
	}
}

// Validate reports every problem of c, each naming the field and the fix.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if c.Addr == "" {
		bad("Addr is empty: set a listen address such as %s", DefaultAddr)
	}
	if len(c.Credentials) == 0 {
		bad("Credentials is empty: give at least one KEY:SECRET")
	}
	keys := map[string]bool{}
	for i, cr := range c.Credentials {
		if cr.APIKey == "" || cr.APISecret == "" {
			bad("Credentials[%d] has an empty key or secret: give KEY:SECRET", i)
		}
		if keys[cr.APIKey] {
			bad("Credentials[%d] repeats API key %q: give each key once", i, cr.APIKey)
		}
		keys[cr.APIKey] = true
	}
	if len(c.BusinessUnits) == 0 {
		bad("BusinessUnits is empty: give at least one ID[=domain]")
	}
	units := map[string]bool{}
	for i, bu := range c.BusinessUnits {
		if bu.ID == "" || strings.ContainsAny(bu.ID, "/?#= ") {
			bad("BusinessUnits[%d] id %q is empty or holds one of / ? # = space: use an opaque id such as 24 hex characters", i, bu.ID)
		}
		if units[bu.ID] {
			bad("BusinessUnits[%d] repeats id %q: give each business unit once", i, bu.ID)
		}
		units[bu.ID] = true
	}
	for i, u := range c.BusinessUsers {
		if strings.TrimSpace(u) == "" {
			bad("BusinessUsers[%d] is blank: remove it", i)
		}
	}
	for i, u := range c.Users {
		if u.Username == "" || u.Password == "" {
			bad("Users[%d] has an empty name or password: give NAME:PASSWORD", i)
		}
	}
	if c.TokenTTL <= 0 {
		bad("TokenTTL is %s: set a positive duration (default 359999s)", c.TokenTTL)
	}
	if c.RefreshTokenTTL <= 0 {
		bad("RefreshTokenTTL is %s: set a positive duration (default 8639999s)", c.RefreshTokenTTL)
	}
	if err := c.MintLimit.validate(); err != nil {
		bad("MintLimit: %v", err)
	}
	for i, rw := range c.RateLimits {
		if err := rw.validate(); err != nil {
			bad("RateLimits[%d]: %v", i, err)
		} else if rw.Limit == 0 {
			bad("RateLimits[%d] has limit 0: remove the window to disable it", i)
		}
	}
	if c.SendDelay < 0 {
		bad("SendDelay is %s: set zero or a positive duration (default 168h)", c.SendDelay)
	}
	if c.FrequencyDays < 0 {
		bad("FrequencyDays is %d: set 0 (send every invitation) or more (default 365)", c.FrequencyDays)
	}
	if err := c.Faults.validate(units); err != nil {
		bad("Faults: %v", err)
	}
	return errors.Join(errs...)
}

// Credential is one API key and its secret. Its text form is KEY:SECRET.
type Credential struct {
	APIKey    string
	APISecret string
}

// UnmarshalText parses KEY:SECRET.
func (c *Credential) UnmarshalText(text []byte) error {
	key, secret, ok := strings.Cut(string(text), ":")
	if !ok || key == "" || secret == "" {
		return fmt.Errorf("%w: credentials %q: want KEY:SECRET", ErrInvalidConfig, redact(string(text)))
	}
	*c = Credential{APIKey: key, APISecret: secret}
	return nil
}

// String shows the key and hides the secret, so a Credential can be logged.
func (c Credential) String() string { return c.APIKey + ":***" }

// User is one username and password of the password grant. Its text form is NAME:PASSWORD.
type User struct {
	Username string
	Password string
}

// UnmarshalText parses NAME:PASSWORD.
func (u *User) UnmarshalText(text []byte) error {
	name, pw, ok := strings.Cut(string(text), ":")
	if !ok || name == "" || pw == "" {
		return fmt.Errorf("%w: user %q: want NAME:PASSWORD", ErrInvalidConfig, redact(string(text)))
	}
	*u = User{Username: name, Password: pw}
	return nil
}

// String shows the name and hides the password.
func (u User) String() string { return u.Username + ":***" }

// redact keeps what precedes the first colon of a KEY:SECRET-like text.
func redact(s string) string {
	if k, _, ok := strings.Cut(s, ":"); ok {
		return k + ":***"
	}
	return s
}

// BusinessUnit is one business unit: an opaque id and, optionally, the domain the
// business-unit lookup finds it by. Its text form is ID or ID=domain.
type BusinessUnit struct {
	ID     string
	Domain string
}

// UnmarshalText parses ID or ID=domain.
func (b *BusinessUnit) UnmarshalText(text []byte) error {
	id, domain, _ := strings.Cut(strings.TrimSpace(string(text)), "=")
	if id == "" {
		return fmt.Errorf("%w: business unit %q: want ID or ID=domain", ErrInvalidConfig, text)
	}
	*b = BusinessUnit{ID: id, Domain: strings.ToLower(domain)}
	return nil
}

// String returns the text form ID or ID=domain.
func (b BusinessUnit) String() string {
	if b.Domain == "" {
		return b.ID
	}
	return b.ID + "=" + b.Domain
}

// displayName is what the business-unit lookup calls the unit.
func (b BusinessUnit) displayName() string {
	if b.Domain == "" {
		return "Business unit " + b.ID
	}
	return b.Domain
}

// RateWindow is "at most Limit events in any sliding window of length Window". Its
// text form is LIMIT/DURATION, e.g. 833/5m; "off" is the zero value (no limit).
type RateWindow struct {
	Limit  int
	Window time.Duration
}

var rateWindowText = regexp.MustCompile(`^\s*(\d+)\s*/\s*(\S+)\s*$`)

// UnmarshalText parses LIMIT/DURATION or "off".
func (rw *RateWindow) UnmarshalText(text []byte) error {
	s := string(text)
	if strings.EqualFold(strings.TrimSpace(s), "off") {
		*rw = RateWindow{}
		return nil
	}
	m := rateWindowText.FindStringSubmatch(s)
	if m == nil {
		return fmt.Errorf("%w: rate window %q: want LIMIT/DURATION such as 833/5m, or off", ErrInvalidConfig, s)
	}
	limit, err := strconv.Atoi(m[1])
	if err != nil {
		return fmt.Errorf("%w: rate window %q: limit: %w", ErrInvalidConfig, s, err)
	}
	window, err := time.ParseDuration(m[2])
	if err != nil {
		return fmt.Errorf("%w: rate window %q: duration: %w", ErrInvalidConfig, s, err)
	}
	parsed := RateWindow{Limit: limit, Window: window}
	if err := parsed.validate(); err != nil {
		return fmt.Errorf("%w: rate window %q: %w", ErrInvalidConfig, s, err)
	}
	*rw = parsed
	return nil
}

// MarshalText returns the text form, so a RateWindow reads well in JSON.
func (rw RateWindow) MarshalText() ([]byte, error) { return []byte(rw.String()), nil }

// String returns LIMIT/DURATION, or "off" for the zero value.
func (rw RateWindow) String() string {
	if rw.Limit == 0 {
		return "off"
	}
	return strconv.Itoa(rw.Limit) + "/" + rw.Window.String()
}

func (rw RateWindow) validate() error {
	switch {
	case rw.Limit < 0:
		return fmt.Errorf("limit %d is negative: use 0 to disable or a positive count", rw.Limit)
	case rw.Limit > 0 && rw.Window <= 0:
		return fmt.Errorf("window %s is not positive: use a duration such as 5m", rw.Window)
	}
	return nil
}
