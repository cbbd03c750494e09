package trustpilot

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Grant is the OAuth grant a TokenSource uses to mint access tokens.
type Grant string

const (
	// GrantClientCredentials mints with the API key and secret alone. It gives
	// no refresh token: a new token is minted when the old one expires. The
	// business user on whose behalf invitations are sent goes in
	// Config.BusinessUserID.
	GrantClientCredentials Grant = "client_credentials"
	// GrantPassword mints with a business user's username and password
	// (deprecated by Trustpilot, still accepted). When the answer carries a
	// refresh token, it is used to renew the access token while it is valid.
	GrantPassword Grant = "password"
)

// Defaults applied to zero Config fields.
const (
	DefaultAPIBaseURL         = "https://api.trustpilot.com"
	DefaultInvitationsBaseURL = "https://invitations-api.trustpilot.com"
	DefaultRequestTimeout     = 30 * time.Second
	DefaultTokenExpirySkew    = 5 * time.Minute
	DefaultUserAgent          = "invitepipe"
)

// Config configures a Client or a TokenSource. The zero value of every
// optional field means its default.
type Config struct {
	// APIBaseURL is the host that mints tokens and looks up business units:
	// an absolute http(s) URL, optionally with a path prefix.
	// Default DefaultAPIBaseURL (https://api.trustpilot.com).
	APIBaseURL string

	// InvitationsBaseURL is the host that takes invitations and lists
	// templates: an absolute http(s) URL, optionally with a path prefix.
	// Default DefaultInvitationsBaseURL (https://invitations-api.trustpilot.com).
	InvitationsBaseURL string

	// APIKey and APISecret identify the Trustpilot application. Required.
	// APIKey is also sent alone (header apikey) to look up business units.
	APIKey    string
	APISecret string

	// Grant is how tokens are minted. Default GrantClientCredentials.
	Grant Grant

	// Username and Password are the business user's credentials. Required
	// with GrantPassword, refused with GrantClientCredentials.
	Username string
	Password string

	// BusinessUserID is the Trustpilot business user id, sent as header
	// x-business-user-id on invitation-host calls; needed with
	// GrantClientCredentials. It is the business USER id, not the business
	// unit id (that mistake is answered 403 errorCode 1014). Optional: when
	// empty the header is not sent.
	BusinessUserID string

	// RequestTimeout bounds one HTTP exchange, from sending the request to
	// reading the end of the response body; each token mint and each attempt
	// of a call is one exchange, so a call with a 401 re-mint may take up to
	// four of them. A response not complete in time is ClassTransient.
	// Default DefaultRequestTimeout (30s). Must not be negative.
	RequestTimeout time.Duration

	// TokenExpirySkew is how long before its expiry a token stops being
	// used: the cache renews a token at expiry minus min(TokenExpirySkew,
	// a tenth of the token's lifetime). Default DefaultTokenExpirySkew (5m).
	// Must not be negative.
	TokenExpirySkew time.Duration

	// HTTPClient sends the requests. Default: a client on
	// http.DefaultTransport. It is copied, and the copy never follows
	// redirects (a redirected POST would arrive as a GET); its own Timeout,
	// if any, also applies.
	HTTPClient *http.Client

	// UserAgent is sent as User-Agent. Default DefaultUserAgent ("invitepipe").
	UserAgent string

	// Now is the clock for token expiry and HTTP-date Retry-After values.
	// Default time.Now. Tests set it to drive expiry.
	Now func() time.Time
}

// withDefaults returns c with every zero optional field set to its default
// and trailing slashes removed from the base URLs.
func (c Config) withDefaults() Config {
	if c.APIBaseURL == "" {
		c.APIBaseURL = DefaultAPIBaseURL
	}
	if c.InvitationsBaseURL == "" {
		c.InvitationsBaseURL = DefaultInvitationsBaseURL
	}
	c.APIBaseURL = strings.TrimRight(c.APIBaseURL, "/")
	c.InvitationsBaseURL = strings.TrimRight(c.InvitationsBaseURL, "/")
	if c.Grant == "" {
		c.Grant = GrantClientCredentials
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.TokenExpirySkew == 0 {
		c.TokenExpirySkew = DefaultTokenExpirySkew
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports every problem with c, each naming the field and the fix.
// Zero optional fields are valid: they take their defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("trustpilot config: "+format, args...))
	}

	for _, f := range []struct{ name, value string }{
		{"APIBaseURL", c.APIBaseURL},
		{"InvitationsBaseURL", c.InvitationsBaseURL},
	} {
		if err := checkBaseURL(f.value); err != nil {
			add("%s %v", f.name, err)
		}
	}
	for _, f := range []struct{ name, value string }{
		{"APIKey", c.APIKey},
		{"APISecret", c.APISecret},
	} {
		if f.value == "" {
			add("%s is required: set the Trustpilot application's %s", f.name, f.name)
		}
	}
	for _, f := range []struct{ name, value string }{
		{"APIKey", c.APIKey},
		{"APISecret", c.APISecret},
		{"BusinessUserID", c.BusinessUserID},
		{"UserAgent", c.UserAgent},
	} {
		if f.value != strings.TrimSpace(f.value) || strings.ContainsAny(f.value, "\r\n") {
			add("%s has leading, trailing or line-break whitespace: remove it (a secret file ending in a newline?)", f.name)
		}
	}
	switch c.Grant {
	case GrantClientCredentials:
		if c.Username != "" || c.Password != "" {
			add("Username and Password are used only with Grant %q: remove them, or set Grant to %q", GrantPassword, GrantPassword)
		}
	case GrantPassword:
		if c.Username == "" || c.Password == "" {
			add("Grant %q needs Username and Password: set both, or use Grant %q", GrantPassword, GrantClientCredentials)
		}
	default:
		add("Grant %q is unknown: use %q or %q", c.Grant, GrantClientCredentials, GrantPassword)
	}
	if c.RequestTimeout < 0 {
		add("RequestTimeout %v is negative: use a positive duration, or 0 for the default %v", c.RequestTimeout, DefaultRequestTimeout)
	}
	if c.TokenExpirySkew < 0 {
		add("TokenExpirySkew %v is negative: use a positive duration, or 0 for the default %v", c.TokenExpirySkew, DefaultTokenExpirySkew)
	}
	return errors.Join(errs...)
}

// checkBaseURL says what is wrong with a base URL, or nil. The URL is quoted
// with any password removed.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("is not a URL: use an absolute URL such as https://api.trustpilot.com")
	}
	shown := u.Redacted()
	switch {
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return fmt.Errorf("%q must be an absolute http(s) URL with a host, such as https://api.trustpilot.com", shown)
	case u.User != nil:
		return fmt.Errorf("%q must not carry credentials: remove the user:password@ part (credentials go in APIKey and APISecret)", shown)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q must not have a query or fragment: remove the part from '?' or '#'", shown)
	}
	return nil
}
