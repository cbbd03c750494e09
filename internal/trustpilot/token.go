package trustpilot

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// tokenPath is where tokens are minted, on the API host.
const tokenPath = "/v1/oauth/oauth-business-users-for-applications/accesstoken"

// TokenSource mints Trustpilot access tokens and caches the current one
// until it is due for renewal: its expiry minus min(Config.TokenExpirySkew,
// a tenth of its lifetime). At most one mint runs at a time. It is safe for
// concurrent use.
type TokenSource struct {
	t        *transport
	url      string
	grant    url.Values // the configured grant's form fields
	basic    string     // Authorization header value
	skew     time.Duration
	mintHint string // what to check when the token endpoint refuses

	mu     sync.Mutex
	cur    *token  // nil: none yet; never mutated, replaced
	flight *flight // non-nil while a mint runs
}

// token is a minted access token and what is needed to renew it.
type token struct {
	access       string
	renewAt      time.Time // stop using access from then on
	refresh      string    // "" when the grant gives none
	refreshUntil time.Time // stop using refresh from then on; zero: unknown, try it
}

// flight is one mint shared by every caller waiting for it; its fields are
// written before done is closed.
type flight struct {
	done   chan struct{}
	access string
	err    error
}

// NewTokenSource returns a TokenSource for cfg, or cfg's validation errors.
func NewTokenSource(cfg Config) (*TokenSource, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return newTokenSource(cfg, newTransport(cfg)), nil
}

// newTokenSource builds a TokenSource from a valid cfg with defaults applied.
func newTokenSource(cfg Config, t *transport) *TokenSource {
	s := &TokenSource{
		t:        t,
		url:      cfg.APIBaseURL + tokenPath,
		basic:    "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.APIKey+":"+cfg.APISecret)),
		skew:     cfg.TokenExpirySkew,
		mintHint: "check APIKey and APISecret",
	}
	switch cfg.Grant {
	case GrantPassword:
		s.grant = url.Values{"grant_type": {string(GrantPassword)}, "username": {cfg.Username}, "password": {cfg.Password}}
		s.mintHint = "check APIKey, APISecret, Username and Password"
	default:
		s.grant = url.Values{"grant_type": {string(GrantClientCredentials)}}
	}
	return s
}

// Token returns an access token that is not due for renewal, minting one if
// needed. Concurrent callers share one mint. If ctx ends first, Token returns
// an error wrapping ctx.Err() while the mint goes on for the other callers;
// a mint is bounded by Config.RequestTimeout, not by any caller's context.
// A failed mint is an *APIError and is not cached: the next call mints again.
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	if ctx.Err() != nil {
		return "", callerEnded(opMint, ctx)
	}
	s.mu.Lock()
	if s.cur != nil && s.t.now().Before(s.cur.renewAt) {
		access := s.cur.access
		s.mu.Unlock()
		return access, nil
	}
	f := s.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		s.flight = f
		go s.mint(context.WithoutCancel(ctx), f, s.cur)
	}
	s.mu.Unlock()

	select {
	case <-f.done:
		return f.access, f.err
	case <-ctx.Done():
		return "", callerEnded(opMint, ctx)
	}
}

// Invalidate tells s that Trustpilot refused access (a 401): if access is
// still the cached token, the next Token call mints a new one. If the cache
// already holds another token, Invalidate does nothing, so many callers
// refused the same token cause one mint between them. A refresh token is
// kept: renewing with it is tried first.
func (s *TokenSource) Invalidate(access string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil && s.cur.access == access {
		refused := *s.cur
		refused.access, refused.renewAt = "", time.Time{}
		s.cur = &refused
	}
}

const opMint = "mint token"

// mint runs one flight: renews prev (nil if none), caches the result if it
// succeeded, and releases the waiters.
func (s *TokenSource) mint(ctx context.Context, f *flight, prev *token) {
	tok, err := s.renew(ctx, prev)
	s.mu.Lock()
	if err == nil {
		s.cur = tok
		f.access = tok.access
	} else {
		f.err = err
	}
	s.flight = nil
	s.mu.Unlock()
	close(f.done)
}

// renew uses prev's refresh token when it has a usable one, and the
// configured grant otherwise or when the refresh token is refused. A
// rate-limited or failed refresh is returned as is: minting with the grant
// right after would only add load.
func (s *TokenSource) renew(ctx context.Context, prev *token) (*token, error) {
	if prev != nil && prev.refresh != "" && (prev.refreshUntil.IsZero() || s.t.now().Before(prev.refreshUntil)) {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {prev.refresh}}
		tok, err := s.request(ctx, form, prev.refresh)
		switch {
		case err == nil:
			if tok.refresh == "" {
				tok.refresh, tok.refreshUntil = prev.refresh, prev.refreshUntil
			}
			return tok, nil
		case !errors.Is(err, ErrDestinationBroken):
			return nil, err
		}
	}
	return s.request(ctx, s.grant, "")
}

// request posts form to the token endpoint and reads the token. secret is
// one more value to keep out of errors (the refresh token sent).
func (s *TokenSource) request(ctx context.Context, form url.Values, secret string) (*token, error) {
	issued := s.t.now()
	status, body, err := s.t.do(ctx, exchange{
		op:     opMint,
		method: http.MethodPost,
		url:    s.url,
		header: http.Header{
			"Authorization": {s.basic},
			"Content-Type":  {"application/x-www-form-urlencoded"},
		},
		body:     []byte(form.Encode()),
		readBody: true,
		classify: classifyMint,
		secrets:  []string{secret, s.basic},
	})
	if e, ok := errors.AsType[*APIError](err); ok {
		e.Hint = s.hintFor(e)
	}
	if err != nil {
		return nil, err
	}

	var r struct {
		AccessToken           string      `json:"access_token"`
		ExpiresIn             json.Number `json:"expires_in"` // a string in Trustpilot's answers; a number accepted too
		RefreshToken          string      `json:"refresh_token"`
		RefreshTokenExpiresIn json.Number `json:"refresh_token_expires_in"`
	}
	// The body holds the token: neither it nor the decoder's error, which may
	// quote it, goes into an error.
	bad := func(msg string) error { return unexpectedAnswer(opMint, status, msg, "APIBaseURL", DefaultAPIBaseURL) }
	if json.Unmarshal(body, &r) != nil {
		return nil, bad("the answer is not a token (not JSON of the expected shape)")
	}
	if r.AccessToken == "" {
		return nil, bad("the answer has no access_token")
	}
	ttl, ok := seconds(r.ExpiresIn)
	if !ok {
		return nil, bad("the answer has no positive expires_in")
	}
	tok := &token{access: r.AccessToken, renewAt: s.dueAt(issued, ttl), refresh: r.RefreshToken}
	if rttl, ok := seconds(r.RefreshTokenExpiresIn); ok && tok.refresh != "" {
		tok.refreshUntil = s.dueAt(issued, rttl)
	}
	return tok, nil
}

// dueAt is when a credential issued at issued with lifetime ttl stops being
// used: min(skew, ttl/10) before it expires.
func (s *TokenSource) dueAt(issued time.Time, ttl time.Duration) time.Time {
	return issued.Add(ttl - min(s.skew, ttl/10))
}

// hintFor says what to check when the token endpoint answered e.
func (s *TokenSource) hintFor(e *APIError) string {
	switch {
	case e.Class == ClassRateLimited:
		return "tokens are minted too often: does something else mint with the same APIKey?"
	case e.Status == http.StatusNotFound, e.Status == http.StatusMethodNotAllowed, e.Status >= 300 && e.Status < 400:
		return "check APIBaseURL: tokens are minted on Trustpilot's API host (" + DefaultAPIBaseURL + ")"
	case e.Class == ClassDestinationBroken:
		return "the token endpoint refused the credentials: " + s.mintHint
	}
	return ""
}

// seconds reads a positive number of seconds, given as a JSON number or
// string, clamped to what a time.Duration holds.
func seconds(n json.Number) (time.Duration, bool) {
	const maxSeconds = float64(math.MaxInt64 / int64(time.Second))
	f, err := n.Float64()
	if err != nil {
		return 0, false
	}
	d := time.Duration(min(f, maxSeconds) * float64(time.Second))
	return d, d > 0
}
