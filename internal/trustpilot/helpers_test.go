package trustpilot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/testenv"
)

const (
	testKey    = "key-0123456789"
	testSecret = "secret-0123456789"
	testBU     = "507f191e810c19729de860ea"
	testUser   = "5f2b1c9e810c19729de86000"
)

func newFakeClock() *testenv.Clock {
	return testenv.NewClock(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
}

// recorded is a request as a fake host received it.
type recorded struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

// fakeTrustpilot is Trustpilot's two hosts on two loopback servers. Its
// handler fields answer requests after they are recorded; set them before
// the first request.
type fakeTrustpilot struct {
	t        *testing.T
	api, inv *httptest.Server

	// token answers the token endpoint; n counts mints from 1. Default:
	// access token "tok-<n>" valid for 3600 s (expires_in a string).
	token func(w http.ResponseWriter, r *http.Request, n int)
	// invite answers invitation-host calls. Default: 201 with no body.
	invite http.HandlerFunc
	// find answers business-unit lookups. Default: 200 {"id":testBU,...}.
	find http.HandlerFunc

	mu    sync.Mutex
	mints []url.Values // forms posted to the token endpoint
	calls []recorded   // requests to the invitations host
	finds []recorded   // requests to the lookup endpoint
}

func newFakeTrustpilot(t *testing.T) *fakeTrustpilot {
	t.Helper()
	f := &fakeTrustpilot{
		t: t,
		token: func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, http.StatusOK, map[string]any{
				"access_token": fmt.Sprintf("tok-%d", n), "expires_in": "3600",
				"token_type": "BearerToken", "issued_at": "1764064800000",
			})
		},
		invite: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) },
		find: func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"id": testBU, "displayName": "Shop"})
		},
	}

	api := http.NewServeMux()
	api.HandleFunc("POST "+tokenPath, f.serveToken)
	api.HandleFunc("GET /v1/business-units/find", func(w http.ResponseWriter, r *http.Request) {
		f.record(&f.finds, r)
		f.find(w, r)
	})
	api.HandleFunc("/", notFound)
	inv := http.NewServeMux()
	inv.HandleFunc("/v1/private/business-units/{id}/{resource}", func(w http.ResponseWriter, r *http.Request) {
		f.record(&f.calls, r)
		f.invite(w, r)
	})
	inv.HandleFunc("/", notFound)

	f.api = httptest.NewServer(api)
	f.inv = httptest.NewServer(inv)
	t.Cleanup(f.api.Close)
	t.Cleanup(f.inv.Close)
	return f
}

func (f *fakeTrustpilot) serveToken(w http.ResponseWriter, r *http.Request) {
	key, secret, ok := r.BasicAuth()
	if !ok || key != testKey || secret != testSecret {
		f.t.Errorf("token request Authorization: got key %q (basic auth %v), want Basic base64(key:secret)", key, ok)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		f.t.Errorf("token request Content-Type = %q", ct)
	}
	if err := r.ParseForm(); err != nil {
		f.t.Errorf("token request form: %v", err)
	}
	f.mu.Lock()
	f.mints = append(f.mints, r.PostForm)
	n := len(f.mints)
	f.mu.Unlock()
	f.token(w, r, n)
}

func (f *fakeTrustpilot) record(into *[]recorded, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("reading request body: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(b)) // for the handler
	f.mu.Lock()
	defer f.mu.Unlock()
	*into = append(*into, recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(b)})
}

func (f *fakeTrustpilot) mintCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.mints)
}

func (f *fakeTrustpilot) mintForms() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.mints...)
}

func (f *fakeTrustpilot) invCalls() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.calls...)
}

func (f *fakeTrustpilot) findCalls() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.finds...)
}

// config is a client_credentials Config aimed at f, without a business user.
func (f *fakeTrustpilot) config() Config {
	return Config{
		APIBaseURL:         f.api.URL,
		InvitationsBaseURL: f.inv.URL,
		APIKey:             testKey,
		APISecret:          testSecret,
	}
}

func (f *fakeTrustpilot) client(cfg Config) *Client {
	f.t.Helper()
	c, err := New(cfg)
	if err != nil {
		f.t.Fatalf("New: %v", err)
	}
	return c
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not found", "errorCode": 0})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// serviceInvitation is a minimal valid service-only invitation.
func serviceInvitation() Invitation {
	return Invitation{
		ConsumerEmail:           "ann@example.com",
		ConsumerName:            "Ann Lee",
		ReferenceNumber:         "A-1001",
		ServiceReviewInvitation: &ServiceReviewInvitation{TemplateID: "tpl-1"},
	}
}
