package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/testenv"
)

// testEnv is a sandbox behind a loopback httptest server, on a fake clock.
type testEnv struct {
	t     *testing.T
	sb    *Server
	srv   *httptest.Server
	clock *testenv.Clock
}

// start is the fake clock's initial time.
var start = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// newEnv starts a sandbox from DefaultConfig with SendDelay 0, changed by mutate.
func newEnv(t *testing.T, mutate func(*Config), opts ...Option) *testEnv {
	t.Helper()
	cfg := DefaultConfig()
	cfg.SendDelay = 0
	if mutate != nil {
		mutate(&cfg)
	}
	clock := testenv.NewClock(start)
	sb, err := New(cfg, append([]Option{WithClock(clock.Now)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(sb.Close) // runs first: releases held requests
	return &testEnv{t: t, sb: sb, srv: srv, clock: clock}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into v, failing the test if it is not JSON.
func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %q is not the expected JSON: %v", r.body, err)
	}
}

// do sends one request; hdr holds header name/value pairs.
func (e *testEnv) do(method, path, body string, hdr ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// mint asks for a token with the given form, as key:secret.
func (e *testEnv) mint(key, secret string, form url.Values) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+tokenPathPrefix+"accesstoken", strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.SetBasicAuth(key, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// token mints a client_credentials token with the default credentials.
func (e *testEnv) token() string {
	e.t.Helper()
	r := e.mint(DefaultAPIKey, DefaultAPISecret, url.Values{"grant_type": {"client_credentials"}})
	var tr tokenResponse
	r.json(e.t, &tr)
	if r.status != http.StatusOK || tr.AccessToken == "" {
		e.t.Fatalf("mint: %d %s", r.status, r.body)
	}
	return tr.AccessToken
}

func invitationsPath(businessUnitID string) string {
	return "/v1/private/business-units/" + businessUnitID + "/email-invitations"
}

// invite creates an invitation for the default business unit with a well-formed call.
func (e *testEnv) invite(token, body string) response {
	e.t.Helper()
	return e.do(http.MethodPost, invitationsPath(DefaultBusinessUnitID), body,
		"Authorization", "Bearer "+token, "Content-Type", "application/json",
		"x-business-user-id", DefaultBusinessUserID)
}

// invitation returns a valid invitation body for email and reference.
func invitation(email, reference string) string {
	return `{"consumerEmail":"` + email + `","consumerName":"Ann Lee","referenceNumber":"` + reference +
		`","locale":"en-US","type":"email","serviceReviewInvitation":{"templateId":"t1"}}`
}

// apiError decodes and checks a {"message","errorCode","correlationId"} body.
func apiError(t *testing.T, r response) apiMessage {
	t.Helper()
	var m apiMessage
	r.json(t, &m)
	if m.Message == "" || len(m.CorrelationID) != 36 {
		t.Fatalf("error body %s lacks message or correlationId", r.body)
	}
	return m
}

// gatewayFault decodes a {"fault":{"faultstring":...}} body and returns the faultstring.
func gatewayFault(t *testing.T, r response) string {
	t.Helper()
	var f struct {
		Fault struct {
			FaultString string `json:"faultstring"`
		} `json:"fault"`
	}
	r.json(t, &f)
	if f.Fault.FaultString == "" {
		t.Fatalf("body %s is not a gateway fault", r.body)
	}
	return f.Fault.FaultString
}

// syncBuffer is a log sink safe to read while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
