package trustpilot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/testenv"
)

func newTestTokenSource(t *testing.T, cfg Config) *TokenSource {
	t.Helper()
	s, err := NewTokenSource(cfg)
	if err != nil {
		t.Fatalf("NewTokenSource: %v", err)
	}
	return s
}

func mustToken(t *testing.T, s *TokenSource) string {
	t.Helper()
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok
}

func TestTokenIsCachedAcrossCalls(t *testing.T) {
	f := newFakeTrustpilot(t)
	s := newTestTokenSource(t, f.config())
	for i := range 20 {
		if got := mustToken(t, s); got != "tok-1" {
			t.Fatalf("call %d: token %q, want tok-1", i, got)
		}
	}
	if n := f.mintCount(); n != 1 {
		t.Errorf("mints = %d, want 1", n)
	}
	if got := f.mintForms()[0].Encode(); got != "grant_type=client_credentials" {
		t.Errorf("mint form = %q, want grant_type=client_credentials only", got)
	}
}

func TestTokenIsRenewedBeforeExpiry(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn string
		skew      time.Duration
		renewAt   time.Duration // after the mint
	}{
		{"long token: default skew of 5m", "3600", 0, 3600*time.Second - 5*time.Minute},
		{"short token: a tenth of its lifetime", "600", 0, 540 * time.Second},
		{"configured skew", "3600", time.Minute, 3540 * time.Second},
		{"configured skew larger than a tenth", "600", 2 * time.Minute, 540 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTrustpilot(t)
			f.token = func(w http.ResponseWriter, r *http.Request, n int) {
				writeJSON(w, http.StatusOK, map[string]any{"access_token": fmt.Sprintf("tok-%d", n), "expires_in": tt.expiresIn})
			}
			clock := newFakeClock()
			cfg := f.config()
			cfg.Now, cfg.TokenExpirySkew = clock.Now, tt.skew
			s := newTestTokenSource(t, cfg)

			mustToken(t, s)
			clock.Advance(tt.renewAt - time.Second)
			if got := mustToken(t, s); got != "tok-1" || f.mintCount() != 1 {
				t.Fatalf("1s before renewal: token %q after %d mints, want tok-1 after 1", got, f.mintCount())
			}
			clock.Advance(time.Second)
			if got := mustToken(t, s); got != "tok-2" || f.mintCount() != 2 {
				t.Fatalf("at renewal: token %q after %d mints, want tok-2 after 2", got, f.mintCount())
			}
		})
	}
}

func TestTokenExpiresInShapes(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantTTL time.Duration // 0: the answer must be refused
	}{
		{"string, as Trustpilot sends it", `{"access_token":"a","expires_in":"359999","issued_at":"1764064800"}`, 359999 * time.Second},
		{"number", `{"access_token":"a","expires_in":359999}`, 359999 * time.Second},
		{"issued_at in milliseconds is ignored", `{"access_token":"a","expires_in":"3600","issued_at":"1764064800000"}`, 3600 * time.Second},
		{"missing expires_in", `{"access_token":"a"}`, 0},
		{"zero", `{"access_token":"a","expires_in":"0"}`, 0},
		{"negative", `{"access_token":"a","expires_in":-5}`, 0},
		{"not a number", `{"access_token":"a","expires_in":"soon"}`, 0},
		{"missing access_token", `{"expires_in":"3600"}`, 0},
		{"not JSON", `<html><title>Captive portal</title></html>`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTrustpilot(t)
			f.token = func(w http.ResponseWriter, r *http.Request, n int) {
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write([]byte(tt.body))
			}
			clock := newFakeClock()
			cfg := f.config()
			cfg.Now, cfg.TokenExpirySkew = clock.Now, time.Nanosecond
			s := newTestTokenSource(t, cfg)

			tok, err := s.Token(context.Background())
			if tt.wantTTL == 0 {
				if !errors.Is(err, ErrDestinationBroken) {
					t.Fatalf("Token = %q, %v; want a destination_broken error", tok, err)
				}
				if !strings.Contains(err.Error(), "APIBaseURL") {
					t.Errorf("error %q does not point at APIBaseURL", err)
				}
				return
			}
			if err != nil || tok != "a" {
				t.Fatalf("Token = %q, %v; want a", tok, err)
			}
			clock.Advance(tt.wantTTL - time.Second)
			mustToken(t, s)
			if n := f.mintCount(); n != 1 {
				t.Fatalf("mints before expiry = %d, want 1", n)
			}
			clock.Advance(time.Second)
			mustToken(t, s)
			if n := f.mintCount(); n != 2 {
				t.Fatalf("mints at expiry = %d, want 2", n)
			}
		})
	}
}

func TestTokenConcurrentCallersShareOneMint(t *testing.T) {
	f := newFakeTrustpilot(t)
	release := make(chan struct{})
	f.token = func(w http.ResponseWriter, r *http.Request, n int) {
		<-release
		writeJSON(w, http.StatusOK, map[string]any{"access_token": fmt.Sprintf("tok-%d", n), "expires_in": "3600"})
	}
	s := newTestTokenSource(t, f.config())

	const callers = 100
	var wg sync.WaitGroup
	tokens := make([]string, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() { tokens[i], errs[i] = s.Token(context.Background()) })
	}
	testenv.WaitFor(t, 10*time.Second, "the mint to reach the server", func() bool { return f.mintCount() > 0 })
	close(release)
	wg.Wait()

	for i := range callers {
		if errs[i] != nil || tokens[i] != "tok-1" {
			t.Fatalf("caller %d: %q, %v; want tok-1", i, tokens[i], errs[i])
		}
	}
	if n := f.mintCount(); n != 1 {
		t.Errorf("mints = %d, want 1", n)
	}
}

func TestTokenWaiterGivingUpDoesNotCancelTheMint(t *testing.T) {
	f := newFakeTrustpilot(t)
	release := make(chan struct{})
	mintCtxEnded := make(chan error, 1)
	f.token = func(w http.ResponseWriter, r *http.Request, n int) {
		<-release
		mintCtxEnded <- r.Context().Err()
		writeJSON(w, http.StatusOK, map[string]any{"access_token": fmt.Sprintf("tok-%d", n), "expires_in": "3600"})
	}
	s := newTestTokenSource(t, f.config())

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := s.Token(ctx)
		first <- err
	}()
	testenv.WaitFor(t, 10*time.Second, "the mint to reach the server", func() bool { return f.mintCount() > 0 })
	second := make(chan string, 1)
	go func() {
		tok, err := s.Token(context.Background())
		if err != nil {
			t.Errorf("second caller: %v", err)
		}
		second <- tok
	}()

	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) || IsRetryable(err) || errors.Is(err, ErrTransient) {
		t.Fatalf("cancelled caller: %v; want context.Canceled, not retryable, no class", err)
	}
	close(release)
	if err := <-mintCtxEnded; err != nil {
		t.Errorf("the mint's request context ended (%v) when one waiter gave up", err)
	}
	if tok := <-second; tok != "tok-1" {
		t.Errorf("second caller got %q, want tok-1", tok)
	}
	if n := f.mintCount(); n != 1 {
		t.Errorf("mints = %d, want 1", n)
	}
}

func TestTokenCallerContextAlreadyEnded(t *testing.T) {
	f := newFakeTrustpilot(t)
	s := newTestTokenSource(t, f.config())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Token(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Token = %v, want context.Canceled", err)
	}
	if n := f.mintCount(); n != 0 {
		t.Errorf("mints = %d, want 0", n)
	}
}

func TestTokenFailedMintIsNotCached(t *testing.T) {
	f := newFakeTrustpilot(t)
	f.token = func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"message": "try later"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": fmt.Sprintf("tok-%d", n), "expires_in": "3600"})
	}
	s := newTestTokenSource(t, f.config())
	if _, err := s.Token(context.Background()); !errors.Is(err, ErrTransient) {
		t.Fatalf("first Token = %v, want transient", err)
	}
	if got := mustToken(t, s); got != "tok-2" {
		t.Errorf("second Token = %q, want tok-2", got)
	}
}

func TestTokenMintFailures(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		want       error
		retryAfter time.Duration
		code       string
		hint       string
	}{
		{"429 without Retry-After", 429, nil, `{"message":"Too many requests"}`, ErrRateLimited, 0, "", "minted too often"},
		{"429 with Retry-After", 429, map[string]string{"Retry-After": "30"}, ``, ErrRateLimited, 30 * time.Second, "", "minted too often"},
		{"401 invalid client, ErrorCode/Error shape", 401, nil, `{"ErrorCode":"invalid_client","Error":"ClientId is Invalid"}`, ErrDestinationBroken, 0, "invalid_client", "APIKey and APISecret"},
		{"400 fault shape", 400, nil, `{"fault":{"faultstring":"Invalid ApiKey","detail":{"errorcode":"oauth.v2.InvalidApiKey"}}}`, ErrDestinationBroken, 0, "oauth.v2.InvalidApiKey", "APIKey and APISecret"},
		{"404: not the API host", 404, nil, `{"message":"Not found"}`, ErrDestinationBroken, 0, "", "APIBaseURL"},
		{"500", 500, nil, `{"message":"Internal error"}`, ErrTransient, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTrustpilot(t)
			f.token = func(w http.ResponseWriter, r *http.Request, n int) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}
			s := newTestTokenSource(t, f.config())
			_, err := s.Token(context.Background())
			if !errors.Is(err, tt.want) {
				t.Fatalf("Token error %v, want %v", err, tt.want)
			}
			e, _ := errors.AsType[*APIError](err)
			if e.Op != opMint || e.Status != tt.status || e.RetryAfter != tt.retryAfter || e.ErrorCode != tt.code {
				t.Errorf("got op %q status %d retryAfter %v code %q; want %q %d %v %q", e.Op, e.Status, e.RetryAfter, e.ErrorCode, opMint, tt.status, tt.retryAfter, tt.code)
			}
			if !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("hint %q does not mention %q", e.Hint, tt.hint)
			}
		})
	}
}

func TestTokenInvalidate(t *testing.T) {
	f := newFakeTrustpilot(t)
	s := newTestTokenSource(t, f.config())
	first := mustToken(t, s)

	s.Invalidate("some-older-token")
	if got := mustToken(t, s); got != first || f.mintCount() != 1 {
		t.Fatalf("after invalidating another token: %q after %d mints, want %q after 1", got, f.mintCount(), first)
	}
	s.Invalidate(first)
	second := mustToken(t, s)
	if second == first || f.mintCount() != 2 {
		t.Fatalf("after invalidating the cached token: %q after %d mints, want a new token after 2", second, f.mintCount())
	}
	s.Invalidate(first) // a late 401 for the old token
	if got := mustToken(t, s); got != second || f.mintCount() != 2 {
		t.Fatalf("after a late invalidation of the old token: %q after %d mints, want %q after 2", got, f.mintCount(), second)
	}
}

func TestTokenPasswordGrant(t *testing.T) {
	type reply struct {
		status int
		body   string
	}
	tests := []struct {
		name    string
		replies []reply       // answers to the mints after the first, in order
		advance time.Duration // after the first mint
		grants  []string      // grant_type of every mint, the first included
		want    string
	}{
		{
			name:    "refresh token used while valid",
			replies: []reply{{200, `{"access_token":"acc-2","expires_in":"3600"}`}},
			advance: time.Hour,
			grants:  []string{"password", "refresh_token"},
			want:    "acc-2",
		},
		{
			name:    "refresh token expired: password again",
			replies: []reply{{200, `{"access_token":"acc-2","expires_in":"3600"}`}},
			advance: 3 * time.Hour,
			grants:  []string{"password", "password"},
			want:    "acc-2",
		},
		{
			name: "refresh token refused: password at once",
			replies: []reply{
				{400, `{"ErrorCode":"invalid_request","Error":"Invalid Refresh Token"}`},
				{200, `{"access_token":"acc-3","expires_in":"3600"}`},
			},
			advance: time.Hour,
			grants:  []string{"password", "refresh_token", "password"},
			want:    "acc-3",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTrustpilot(t)
			f.token = func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					writeJSON(w, http.StatusOK, map[string]any{
						"access_token": "acc-1", "expires_in": "3600",
						"refresh_token": "ref-1", "refresh_token_expires_in": "7200",
					})
					return
				}
				rep := tt.replies[n-2]
				w.WriteHeader(rep.status)
				_, _ = w.Write([]byte(rep.body))
			}
			clock := newFakeClock()
			cfg := f.config()
			cfg.Grant, cfg.Username, cfg.Password, cfg.Now = GrantPassword, "owner@shop.example", "pa55word", clock.Now
			s := newTestTokenSource(t, cfg)

			mustToken(t, s)
			clock.Advance(tt.advance)
			if got := mustToken(t, s); got != tt.want {
				t.Errorf("token = %q, want %q", got, tt.want)
			}
			forms := f.mintForms()
			if len(forms) != len(tt.grants) {
				t.Fatalf("mints = %d, want %d", len(forms), len(tt.grants))
			}
			for i, form := range forms {
				if got := form.Get("grant_type"); got != tt.grants[i] {
					t.Errorf("mint %d grant_type = %q, want %q", i+1, got, tt.grants[i])
				}
				switch tt.grants[i] {
				case "password":
					if form.Get("username") != "owner@shop.example" || form.Get("password") != "pa55word" {
						t.Errorf("mint %d: password grant without the credentials: %v", i+1, form)
					}
				case "refresh_token":
					if form.Get("refresh_token") != "ref-1" || form.Has("password") {
						t.Errorf("mint %d: refresh form %v, want refresh_token=ref-1 and no password", i+1, form)
					}
				}
			}
		})
	}
}
