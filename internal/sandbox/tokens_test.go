package sandbox

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestTokenGrants(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Users = []User{{Username: "ann", Password: "pw"}} })
	password := url.Values{"grant_type": {"password"}, "username": {"ann"}, "password": {"pw"}}
	var pr tokenResponse
	e.mint(DefaultAPIKey, DefaultAPISecret, password).json(t, &pr)

	tests := []struct {
		name        string
		key, secret string
		form        url.Values
		wantStatus  int
		wantRefresh bool
		wantError   string // ErrorCode of a refused grant
	}{
		{"client credentials", DefaultAPIKey, DefaultAPISecret, url.Values{"grant_type": {"client_credentials"}}, 200, false, ""},
		{"password", DefaultAPIKey, DefaultAPISecret, password, 200, true, ""},
		{"refresh token", DefaultAPIKey, DefaultAPISecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pr.RefreshToken}}, 200, true, ""},
		{"refresh token used twice", DefaultAPIKey, DefaultAPISecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pr.RefreshToken}}, 400, false, "invalid_grant"},
		{"wrong password", DefaultAPIKey, DefaultAPISecret, url.Values{"grant_type": {"password"}, "username": {"ann"}, "password": {"no"}}, 400, false, "invalid_grant"},
		{"wrong secret", DefaultAPIKey, "nope", url.Values{"grant_type": {"client_credentials"}}, 401, false, "invalid_client"},
		{"unknown key", "nobody", DefaultAPISecret, url.Values{"grant_type": {"client_credentials"}}, 401, false, "invalid_client"},
		{"unsupported grant", DefaultAPIKey, DefaultAPISecret, url.Values{"grant_type": {"implicit"}}, 400, false, "unsupported_grant_type"},
		{"no grant", DefaultAPIKey, DefaultAPISecret, url.Values{}, 400, false, "unsupported_grant_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.mint(tt.key, tt.secret, tt.form)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", r.status, r.body, tt.wantStatus)
			}
			if tt.wantError != "" {
				var oe struct{ ErrorCode, Error string }
				r.json(t, &oe)
				if oe.ErrorCode != tt.wantError || oe.Error == "" {
					t.Fatalf("body = %s, want ErrorCode %q and an Error", r.body, tt.wantError)
				}
				return
			}
			// expires_in and issued_at are JSON strings, as Trustpilot sends them
			var raw map[string]any
			r.json(t, &raw)
			if raw["expires_in"] != "359999" || raw["token_type"] != "BearerToken" || raw["access_token"] == "" {
				t.Fatalf("body = %s", r.body)
			}
			if raw["issued_at"] != strconv.FormatInt(start.Unix(), 10) {
				t.Fatalf("issued_at = %v, want %d as a string", raw["issued_at"], start.Unix())
			}
			_, hasRefresh := raw["refresh_token"]
			if hasRefresh != tt.wantRefresh {
				t.Fatalf("refresh_token present = %v, want %v: %s", hasRefresh, tt.wantRefresh, r.body)
			}
			if tt.wantRefresh && raw["refresh_token_expires_in"] != "8639999" {
				t.Fatalf("refresh_token_expires_in = %v", raw["refresh_token_expires_in"])
			}
		})
	}
}

func TestTokenEndpointRequestShape(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Users = []User{{Username: "ann", Password: "pw"}} })
	var pr tokenResponse
	e.mint(DefaultAPIKey, DefaultAPISecret, url.Values{"grant_type": {"password"}, "username": {"ann"}, "password": {"pw"}}).json(t, &pr)
	basic := "Basic " + "c2FuZGJveC1hcGkta2V5OnNhbmRib3gtYXBpLXNlY3JldA==" // sandbox-api-key:sandbox-api-secret
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		hdr        []string
		wantStatus int
	}{
		{"refresh path without grant_type", http.MethodPost, "refresh", "refresh_token=" + pr.RefreshToken, []string{"Authorization", basic, "Content-Type", form}, 200},
		{"refresh path refuses other grants", http.MethodPost, "refresh", "grant_type=client_credentials", []string{"Authorization", basic, "Content-Type", form}, 400},
		{"JSON instead of a form", http.MethodPost, "accesstoken", `{"grant_type":"client_credentials"}`, []string{"Authorization", basic, "Content-Type", "application/json"}, 400},
		{"no basic auth", http.MethodPost, "accesstoken", "grant_type=client_credentials", []string{"Content-Type", form}, 401},
		{"GET", http.MethodGet, "accesstoken", "", []string{"Authorization", basic}, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tokenPathPrefix+tt.path, tt.body, tt.hdr...)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", r.status, r.body, tt.wantStatus)
			}
		})
	}
}

func TestTokenExpiryAndBadTokens(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TokenTTL = time.Hour })
	tok := e.token()
	templates := "/v1/private/business-units/" + DefaultBusinessUnitID + "/templates"
	get := func(auth string) response {
		return e.do(http.MethodGet, templates, "", "Authorization", auth, "x-business-user-id", DefaultBusinessUserID)
	}
	if r := get("Bearer " + tok); r.status != 200 {
		t.Fatalf("fresh token: status %d (%s)", r.status, r.body)
	}
	e.clock.Advance(time.Hour - time.Second)
	if r := get("Bearer " + tok); r.status != 200 {
		t.Fatalf("token one second before expiry: status %d", r.status)
	}
	e.clock.Advance(time.Second)

	tests := []struct {
		name, auth, wantFault string
	}{
		{"expired", "Bearer " + tok, "Access Token expired"},
		{"unknown", "Bearer not-a-token", "Invalid Access Token"},
		{"missing", "", "Invalid access token"},
		{"basic instead of bearer", "Basic abc", "Invalid access token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(tt.auth)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", r.status)
			}
			if got := gatewayFault(t, r); got != tt.wantFault {
				t.Fatalf("faultstring = %q, want %q", got, tt.wantFault)
			}
		})
	}
	if r := get("Bearer " + e.token()); r.status != 200 {
		t.Fatalf("new token after expiry: status %d", r.status)
	}
}

func TestMintLimit(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter bool
	}{{"without Retry-After", false}, {"with Retry-After", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) {
				c.MintLimit = RateWindow{Limit: 3, Window: time.Minute}
				c.RetryAfter = tt.retryAfter
				c.Credentials = append(c.Credentials, Credential{APIKey: "other", APISecret: "s"})
			})
			cc := url.Values{"grant_type": {"client_credentials"}}
			for i := range 3 {
				if r := e.mint(DefaultAPIKey, DefaultAPISecret, cc); r.status != 200 {
					t.Fatalf("mint %d: status %d", i+1, r.status)
				}
				e.clock.Advance(10 * time.Second)
			}
			r := e.mint(DefaultAPIKey, DefaultAPISecret, cc)
			if r.status != http.StatusTooManyRequests {
				t.Fatalf("4th mint in a minute: status %d, want 429", r.status)
			}
			gatewayFault(t, r)
			wantRetry := ""
			if tt.retryAfter {
				wantRetry = "30" // the first mint leaves the window 30 s from now
			}
			if got := r.header.Get("Retry-After"); got != wantRetry {
				t.Fatalf("Retry-After = %q, want %q", got, wantRetry)
			}
			if r := e.mint("other", "s", cc); r.status != 200 {
				t.Fatalf("another key: status %d, want 200 (limits are per key)", r.status)
			}
			e.clock.Advance(30 * time.Second)
			if r := e.mint(DefaultAPIKey, DefaultAPISecret, cc); r.status != 200 {
				t.Fatalf("mint once the first left the window: status %d", r.status)
			}
			if got := e.sb.Stats().TokensMinted; got != 5 {
				t.Fatalf("TokensMinted = %d, want 5", got)
			}
		})
	}
}

func TestTokensAreNeverLogged(t *testing.T) {
	var log syncBuffer
	e := newEnv(t, nil, WithLogger(zerolog.New(&log)))
	tok := e.token()
	e.invite(tok, invitation("ann.lee@example.com", "A-1"))
	for _, secret := range []string{tok, DefaultAPISecret, "ann.lee@example.com"} {
		if strings.Contains(log.String(), secret) {
			t.Errorf("log shows %q:\n%s", secret, log.String())
		}
	}
	if !strings.Contains(log.String(), `"email":"a***@example.com"`) {
		t.Errorf("log lacks the masked email:\n%s", log.String())
	}
}
