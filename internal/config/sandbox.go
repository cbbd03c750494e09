package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/invitepipe/invitepipe/internal/sandbox"
)

// Sandbox is the configuration of `invitepipe sandbox`. Each variable has the flag its
// flag tag names, which wins over it. The defaults are sandbox.DefaultConfig's.
type Sandbox struct {
	// Addr is the listen address. Default 127.0.0.1:8089 (loopback only).
	Addr string `envconfig:"INVITEPIPE_SANDBOX_ADDR" default:"127.0.0.1:8089" flag:"addr" desc:"listen address (host:port); loopback by default"`
	// Credentials are the accepted API keys and secrets. Default the public
	// sandbox-api-key:sandbox-api-secret.
	Credentials List[sandbox.Credential, *sandbox.Credential] `envconfig:"INVITEPIPE_SANDBOX_CREDENTIALS" default:"sandbox-api-key:sandbox-api-secret" flag:"credentials" desc:"accepted API keys and secrets, KEY:SECRET, comma-separated"`
	// BusinessUnits are the business units that exist. Default one, found by domain
	// shop.example.
	BusinessUnits List[sandbox.BusinessUnit, *sandbox.BusinessUnit] `envconfig:"INVITEPIPE_SANDBOX_BUSINESS_UNITS" default:"507f191e810c19729de860ea=shop.example" flag:"business-unit" desc:"business units, ID or ID=DOMAIN (for the business-unit lookup), comma-separated"`
	// BusinessUsers are the ids client_credentials calls must send in
	// x-business-user-id. Empty: the header is not checked.
	BusinessUsers Strings `envconfig:"INVITEPIPE_SANDBOX_BUSINESS_USERS" default:"60c72b2f9b1d8e3a4c5d6e7f" flag:"business-user" desc:"business user ids that client_credentials calls must send in x-business-user-id, comma-separated (empty: header not checked)"`
	// Users are the password grant's users. Default none: the grant is refused.
	Users List[sandbox.User, *sandbox.User] `envconfig:"INVITEPIPE_SANDBOX_USERS" flag:"user" desc:"users of the password grant, NAME:PASSWORD, comma-separated (default: none, grant refused)"`
	// TokenTTL is the access token lifetime. Default 359999s (Trustpilot's).
	TokenTTL time.Duration `envconfig:"INVITEPIPE_SANDBOX_TOKEN_TTL" default:"359999s" flag:"token-ttl" desc:"access token lifetime; calls with an older token get 401"`
	// RefreshTokenTTL is the refresh token lifetime. Default 8639999s (about 100 days).
	RefreshTokenTTL time.Duration `envconfig:"INVITEPIPE_SANDBOX_REFRESH_TOKEN_TTL" default:"8639999s" flag:"refresh-token-ttl" desc:"refresh token lifetime (password and refresh_token grants)"`
	// MintLimit is how many tokens one API key may mint per sliding window. Default
	// 10/1m; off: no limit.
	MintLimit sandbox.RateWindow `envconfig:"INVITEPIPE_SANDBOX_MINT_LIMIT" default:"10/1m" flag:"mint-limit" desc:"tokens one API key may mint per sliding window, LIMIT/DURATION or off; beyond: 429"`
	// RateLimits are the sliding windows of invitation-host calls per API key. Default
	// Trustpilot's guidance, 833/5m and 10000/1h; empty: no limit.
	RateLimits List[sandbox.RateWindow, *sandbox.RateWindow] `envconfig:"INVITEPIPE_SANDBOX_RATE_LIMIT" default:"833/5m,10000/1h" flag:"rate-limit" desc:"invitation-host calls per API key per sliding window, LIMIT/DURATION, comma-separated (e.g. 50/5s to speed tests up; empty: no limit); beyond: 429"`
	// RetryAfter adds Retry-After to rate-limit 429s. Default false, as the real API.
	RetryAfter bool `envconfig:"INVITEPIPE_SANDBOX_RETRY_AFTER" default:"false" flag:"retry-after" desc:"add Retry-After (seconds) to 429s, which the real API does not send"`
	// SendDelay is when an accepted invitation without preferredSendTime is sent.
	// Default 168h (7 days, Trustpilot's).
	SendDelay time.Duration `envconfig:"INVITEPIPE_SANDBOX_SEND_DELAY" default:"168h" flag:"send-delay" desc:"when an invitation without preferredSendTime is sent, after acceptance"`
	// FrequencyDays is the account's frequency rule, in days. Default 365; 0: none.
	FrequencyDays int `envconfig:"INVITEPIPE_SANDBOX_FREQUENCY_DAYS" default:"365" flag:"frequency-days" desc:"one invitation per email per business unit per this many days, checked at send time (0: no limit)"`
	// LatencyMin and LatencyMax bound the latency added to invitation-host calls,
	// uniform between them. Default 0s.
	LatencyMin time.Duration `envconfig:"INVITEPIPE_SANDBOX_LATENCY_MIN" default:"0s" flag:"latency-min" desc:"least added latency of invitation-host calls"`
	LatencyMax time.Duration `envconfig:"INVITEPIPE_SANDBOX_LATENCY_MAX" default:"0s" flag:"latency-max" desc:"most added latency (uniform between min and max)"`
	// Faults are the injected faults' rates. Default none.
	Faults List[SandboxFault, *SandboxFault] `envconfig:"INVITEPIPE_SANDBOX_FAULTS" flag:"fault" desc:"faults injected into invitation-host calls, KIND=RATE with RATE in 0..1, comma-separated; KIND is one of 500 500fault 503 520 403html 429 timeout accept+500 accept+timeout (accept+* record the invitation, then fail)"`
	// ForceStatus answers every invitation-host call for a business unit with a status.
	// Default none.
	ForceStatus List[SandboxForcedStatus, *SandboxForcedStatus] `envconfig:"INVITEPIPE_SANDBOX_FORCE_STATUS" flag:"force-status" desc:"answer every invitation-host call for a business unit with a status, ID=STATUS[:ERRORCODE] (e.g. ID=403:1014), comma-separated; change at runtime with PUT /_sandbox/faults"`
	// LogLevel is the level of the JSON request log. Default info.
	LogLevel string `envconfig:"INVITEPIPE_SANDBOX_LOG_LEVEL" default:"info" flag:"log-level" desc:"log level of the JSON request log on stdout: trace, debug, info, warn, error"`
}

// Config returns the sandbox's configuration.
func (c *Sandbox) Config() sandbox.Config {
	cfg := sandbox.Config{
		Addr:            c.Addr,
		Credentials:     c.Credentials,
		BusinessUnits:   c.BusinessUnits,
		BusinessUsers:   c.BusinessUsers,
		Users:           c.Users,
		TokenTTL:        c.TokenTTL,
		RefreshTokenTTL: c.RefreshTokenTTL,
		MintLimit:       c.MintLimit,
		RateLimits:      c.RateLimits,
		RetryAfter:      c.RetryAfter,
		SendDelay:       c.SendDelay,
		FrequencyDays:   c.FrequencyDays,
		Faults:          sandbox.Faults{LatencyMin: c.LatencyMin, LatencyMax: c.LatencyMax},
	}
	for _, f := range c.Faults {
		if cfg.Faults.Rates == nil {
			cfg.Faults.Rates = map[sandbox.FaultKind]float64{}
		}
		cfg.Faults.Rates[f.Kind] = f.Rate
	}
	for _, f := range c.ForceStatus {
		if cfg.Faults.Forced == nil {
			cfg.Faults.Forced = map[string]sandbox.ForcedStatus{}
		}
		cfg.Faults.Forced[f.BusinessUnit] = f.Status
	}
	return cfg
}

// Validate checks the log level and the sandbox's configuration.
func (c *Sandbox) Validate() error {
	var p problems
	checkLogLevel(&p, "INVITEPIPE_SANDBOX_LOG_LEVEL", c.LogLevel)
	return errors.Join(p.err(), c.Config().Validate())
}

// SandboxFault is one injected fault's rate. Its text form is KIND=RATE, e.g. 503=0.1.
type SandboxFault struct {
	Kind sandbox.FaultKind
	Rate float64
}

// UnmarshalText parses KIND=RATE; sandbox.Config.Validate checks the kind and the rate.
func (f *SandboxFault) UnmarshalText(text []byte) error {
	kind, rate, ok := strings.Cut(string(text), "=")
	r, err := strconv.ParseFloat(rate, 64)
	if !ok || err != nil {
		return fmt.Errorf("fault %q: want KIND=RATE such as 503=0.1", text)
	}
	*f = SandboxFault{Kind: sandbox.FaultKind(kind), Rate: r}
	return nil
}

func (f SandboxFault) String() string { return fmt.Sprintf("%s=%g", f.Kind, f.Rate) }

// SandboxForcedStatus is the status forced on a business unit's invitation-host calls.
// Its text form is ID=STATUS[:ERRORCODE], e.g. 507f191e810c19729de860ea=403:1014.
type SandboxForcedStatus struct {
	BusinessUnit string
	Status       sandbox.ForcedStatus
}

// UnmarshalText parses ID=STATUS[:ERRORCODE].
func (f *SandboxForcedStatus) UnmarshalText(text []byte) error {
	bad := fmt.Errorf("force-status %q: want BUSINESSUNIT=STATUS[:ERRORCODE] such as 507f191e810c19729de860ea=403:1014", text)
	id, answer, ok := strings.Cut(string(text), "=")
	status, code, hasCode := strings.Cut(answer, ":")
	st, err := strconv.Atoi(status)
	if !ok || id == "" || err != nil {
		return bad
	}
	parsed := SandboxForcedStatus{BusinessUnit: id, Status: sandbox.ForcedStatus{Status: st}}
	if hasCode {
		if parsed.Status.ErrorCode, err = strconv.Atoi(code); err != nil {
			return bad
		}
	}
	*f = parsed
	return nil
}

func (f SandboxForcedStatus) String() string {
	return fmt.Sprintf("%s=%d:%d", f.BusinessUnit, f.Status.Status, f.Status.ErrorCode)
}
