package sandbox

import (
	"crypto/rand"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The OAuth grant types of the token endpoint.
const (
	grantClientCredentials = "client_credentials"
	grantPassword          = "password"
	grantRefreshToken      = "refresh_token"
)

// token is an access or refresh token and what it stands for.
type token struct {
	apiKey string
	// grant is how the chain started: client_credentials, or password for password
	// tokens and the tokens refreshed from them.
	grant   string
	expires time.Time
}

// tokenResponse is the token endpoint's answer. Durations and times are strings, as
// Trustpilot sends them.
type tokenResponse struct {
	AccessToken           string `json:"access_token"`
	ExpiresIn             string `json:"expires_in"`
	TokenType             string `json:"token_type"`
	IssuedAt              string `json:"issued_at"`
	RefreshToken          string `json:"refresh_token,omitempty"`
	RefreshTokenExpiresIn string `json:"refresh_token_expires_in,omitempty"`
}

// handleToken serves the access token endpoint, or the refresh endpoint when
// refreshOnly is set (where grant_type may be omitted and must be refresh_token).
func (s *Server) handleToken(refreshOnly bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, secret, ok := r.BasicAuth()
		if !ok || s.secrets[key] == "" || s.secrets[key] != secret {
			writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "ClientId is Invalid")
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
			return
		}
		if err := r.ParseForm(); err != nil {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Malformed form body")
			return
		}
		grant := r.PostForm.Get("grant_type")
		if refreshOnly && grant == "" {
			grant = grantRefreshToken
		}
		if refreshOnly && grant != grantRefreshToken {
			writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "Only grant_type refresh_token is accepted here")
			return
		}

		s.mu.Lock()
		defer s.mu.Unlock()
		now := s.now()
		chain := grant
		switch grant {
		case grantClientCredentials:
		case grantPassword:
			pw, known := s.passwords[r.PostForm.Get("username")]
			if !known || pw != r.PostForm.Get("password") {
				writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Invalid username or password")
				return
			}
		case grantRefreshToken:
			old, known := s.refreshTokens[r.PostForm.Get("refresh_token")]
			if !known || old.apiKey != key || !now.Before(old.expires) {
				writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Invalid or expired refresh token")
				return
			}
			chain = old.grant
		default:
			writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type : "+grant)
			return
		}
		if ok, wait := s.mintWindows(key).admit(now); !ok {
			if s.cfg.RetryAfter {
				w.Header().Set("Retry-After", retryAfterSeconds(wait))
			}
			writeGatewayFault(w, http.StatusTooManyRequests, "Spike arrest violation. Too many access tokens minted", "policies.ratelimit.SpikeArrestViolation")
			return
		}
		if grant == grantRefreshToken {
			delete(s.refreshTokens, r.PostForm.Get("refresh_token")) // refresh tokens are single use
		}
		s.stats.tokensMinted++
		access := rand.Text()
		s.accessTokens[access] = &token{apiKey: key, grant: chain, expires: now.Add(s.cfg.TokenTTL)}
		resp := tokenResponse{
			AccessToken: access,
			ExpiresIn:   seconds(s.cfg.TokenTTL),
			TokenType:   "BearerToken",
			IssuedAt:    strconv.FormatInt(now.Unix(), 10),
		}
		if chain == grantPassword {
			resp.RefreshToken = rand.Text()
			resp.RefreshTokenExpiresIn = seconds(s.cfg.RefreshTokenTTL)
			s.refreshTokens[resp.RefreshToken] = &token{apiKey: key, grant: chain, expires: now.Add(s.cfg.RefreshTokenTTL)}
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

// mintWindows returns the mint-limit window of an API key. The caller holds s.mu.
func (s *Server) mintWindows(key string) windows {
	ws, ok := s.mints[key]
	if !ok {
		ws = newWindows([]RateWindow{s.cfg.MintLimit})
		s.mints[key] = ws
	}
	return ws
}

// authenticate returns the token of a Bearer Authorization header, or answers 401
// (missing, unknown or expired token) and returns nil. The caller holds s.mu.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, now time.Time) *token {
	scheme, value, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || value == "" {
		writeGatewayFault(w, http.StatusUnauthorized, "Invalid access token", "oauth.v2.InvalidAccessToken")
		return nil
	}
	tok, ok := s.accessTokens[strings.TrimSpace(value)]
	switch {
	case !ok:
		writeGatewayFault(w, http.StatusUnauthorized, "Invalid Access Token", "keymanagement.service.invalid_access_token")
		return nil
	case !now.Before(tok.expires):
		writeGatewayFault(w, http.StatusUnauthorized, "Access Token expired", "keymanagement.service.access_token_expired")
		return nil
	}
	return tok
}

// seconds renders d as whole seconds, the unit of expires_in.
func seconds(d time.Duration) string {
	return strconv.FormatInt(int64(d/time.Second), 10)
}

// retryAfterSeconds renders a wait as a Retry-After value: whole seconds, rounded up.
func retryAfterSeconds(wait time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))
}
