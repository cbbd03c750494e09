package trustpilot

// The client against the Trustpilot simulator (internal/sandbox) over real
// HTTP: the two were written apart from the same API notes, so agreement here
// checks both readings.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/sandbox"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// contractEnv is a sandbox on a loopback server, with its own clock: moving
// it alone simulates a client whose clock lags the server's.
type contractEnv struct {
	sb      *sandbox.Server
	srv     *httptest.Server
	sbClock *testenv.Clock
}

func newContractEnv(t *testing.T, mutate func(*sandbox.Config)) *contractEnv {
	t.Helper()
	cfg := sandbox.DefaultConfig()
	cfg.SendDelay = 0
	if mutate != nil {
		mutate(&cfg)
	}
	clock := newFakeClock()
	sb, err := sandbox.New(cfg, sandbox.WithClock(clock.Now))
	if err != nil {
		t.Fatalf("sandbox.New: %v", err)
	}
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(sb.Close) // runs first: releases requests held by timeout faults
	return &contractEnv{sb: sb, srv: srv, sbClock: clock}
}

// client is a client_credentials client with the sandbox's default
// credentials and business user, changed by mutate.
func (e *contractEnv) client(t *testing.T, mutate func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		APIBaseURL:         e.srv.URL,
		InvitationsBaseURL: e.srv.URL,
		APIKey:             sandbox.DefaultAPIKey,
		APISecret:          sandbox.DefaultAPISecret,
		BusinessUserID:     sandbox.DefaultBusinessUserID,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// recordedInvitations lists what the sandbox accepted, over HTTP.
func (e *contractEnv) recordedInvitations(t *testing.T, businessUnitID string) []sandbox.Invitation {
	t.Helper()
	resp, err := http.Get(e.srv.URL + "/_sandbox/invitations?" + url.Values{"business_unit": {businessUnitID}}.Encode())
	if err != nil {
		t.Fatalf("GET /_sandbox/invitations: %v", err)
	}
	defer resp.Body.Close()
	var invs []sandbox.Invitation
	if err := json.NewDecoder(resp.Body).Decode(&invs); err != nil {
		t.Fatalf("decoding /_sandbox/invitations: %v", err)
	}
	return invs
}

func TestContractInvitationRecordedWithExactBody(t *testing.T) {
	tests := []struct {
		name string
		inv  Invitation
		want string
	}{
		{"service only", Invitation{
			ConsumerEmail: "ann@example.com", ConsumerName: "Ann Lee", ReferenceNumber: "A-1001", Locale: "en-US",
			ServiceReviewInvitation: &ServiceReviewInvitation{TemplateID: "tpl-s", RedirectURI: "https://shop.example/thanks", Tags: []string{"vip"}},
		}, `{"consumerEmail":"ann@example.com","consumerName":"Ann Lee","referenceNumber":"A-1001","locale":"en-US","type":"email","serviceReviewInvitation":{"templateId":"tpl-s","redirectUri":"https://shop.example/thanks","tags":["vip"]}}`},
		{"service and product", Invitation{
			ConsumerEmail: "bo@example.com", ConsumerName: "Bo", ReferenceNumber: "A-1002", SenderName: "Shop",
			ServiceReviewInvitation: &ServiceReviewInvitation{PreferredSendTime: "2026-11-25T10:00:00Z"},
			ProductReviewInvitation: &ProductReviewInvitation{PreferredSendTime: "2026-11-26T10:00:00Z", ProductSKUs: []string{"SKU-1"}},
		}, `{"consumerEmail":"bo@example.com","consumerName":"Bo","referenceNumber":"A-1002","senderName":"Shop","type":"email","serviceReviewInvitation":{"preferredSendTime":"2026-11-25T10:00:00Z"},"productReviewInvitation":{"preferredSendTime":"2026-11-26T10:00:00Z","productSkus":["SKU-1"]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newContractEnv(t, nil)
			c := env.client(t, nil)
			if err := c.CreateEmailInvitation(context.Background(), sandbox.DefaultBusinessUnitID, tt.inv); err != nil {
				t.Fatalf("CreateEmailInvitation: %v", err)
			}
			invs := env.recordedInvitations(t, sandbox.DefaultBusinessUnitID)
			if len(invs) != 1 {
				t.Fatalf("sandbox recorded %d invitations, want 1", len(invs))
			}
			if got := string(invs[0].Body); got != tt.want {
				t.Errorf("recorded body\n got %s\nwant %s", got, tt.want)
			}
			if invs[0].ReferenceNumber != tt.inv.ReferenceNumber || invs[0].APIKey != sandbox.DefaultAPIKey {
				t.Errorf("recorded %+v", invs[0])
			}
		})
	}
}

func TestContractLookups(t *testing.T) {
	env := newContractEnv(t, nil)
	c := env.client(t, nil)
	bu, err := c.FindBusinessUnit(context.Background(), sandbox.DefaultDomain)
	if err != nil || bu.ID != sandbox.DefaultBusinessUnitID {
		t.Fatalf("FindBusinessUnit = %+v, %v; want id %s", bu, err, sandbox.DefaultBusinessUnitID)
	}
	templates, err := c.ListTemplates(context.Background(), bu.ID)
	if err != nil || len(templates) == 0 || templates[0].ID == "" {
		t.Fatalf("ListTemplates = %+v, %v; want templates with ids", templates, err)
	}
	if _, err := c.FindBusinessUnit(context.Background(), "unknown.example"); !errors.Is(err, ErrDestinationBroken) {
		t.Errorf("FindBusinessUnit(unknown) = %v, want destination broken", err)
	}
}

func TestContractExpiredTokenRemintedOnce(t *testing.T) {
	env := newContractEnv(t, func(c *sandbox.Config) { c.TokenTTL = time.Hour })
	clientClock := newFakeClock()
	c := env.client(t, func(cfg *Config) { cfg.Now = clientClock.Now })
	ctx := context.Background()

	if err := c.CreateEmailInvitation(ctx, sandbox.DefaultBusinessUnitID, serviceInvitation()); err != nil {
		t.Fatalf("first invitation: %v", err)
	}
	env.sbClock.Advance(2 * time.Hour) // the token expired for the sandbox; the client's clock lags
	inv := serviceInvitation()
	inv.ReferenceNumber = "A-1002"
	if err := c.CreateEmailInvitation(ctx, sandbox.DefaultBusinessUnitID, inv); err != nil {
		t.Fatalf("invitation after expiry: %v", err)
	}

	st := env.sb.Stats()
	if st.TokensMinted != 2 {
		t.Errorf("tokens minted = %d, want 2 (one re-mint)", st.TokensMinted)
	}
	calls := st.Calls[sandbox.ClassInvitations]
	if calls[http.StatusUnauthorized] != 1 || calls[http.StatusAccepted] != 2 {
		t.Errorf("invitation calls by status = %v, want one 401 and two 202", calls)
	}
	if n := len(env.recordedInvitations(t, sandbox.DefaultBusinessUnitID)); n != 2 {
		t.Errorf("recorded invitations = %d, want 2", n)
	}
}

func TestContractPasswordGrantRefresh(t *testing.T) {
	env := newContractEnv(t, func(c *sandbox.Config) {
		c.TokenTTL = time.Hour
		c.Users = []sandbox.User{{Username: "owner@shop.example", Password: "pa55word"}}
	})
	c := env.client(t, func(cfg *Config) {
		cfg.Grant, cfg.Username, cfg.Password, cfg.BusinessUserID = GrantPassword, "owner@shop.example", "pa55word", ""
		cfg.Now = env.sbClock.Now // one clock: renewal happens before expiry
	})
	for i, advance := range []time.Duration{0, 2 * time.Hour, 2 * time.Hour} {
		env.sbClock.Advance(advance)
		inv := serviceInvitation()
		inv.ReferenceNumber = fmt.Sprintf("A-%d", i)
		if err := c.CreateEmailInvitation(context.Background(), sandbox.DefaultBusinessUnitID, inv); err != nil {
			t.Fatalf("invitation %d: %v", i, err)
		}
	}
	st := env.sb.Stats()
	if st.TokensMinted != 3 || st.Calls[sandbox.ClassInvitations][http.StatusUnauthorized] != 0 {
		t.Errorf("tokens minted %d, 401s %d; want 3 (a mint, then two single-use refreshes) and none",
			st.TokensMinted, st.Calls[sandbox.ClassInvitations][http.StatusUnauthorized])
	}
	if tokenCalls := st.Calls[sandbox.ClassToken]; tokenCalls[http.StatusOK] != 3 || len(tokenCalls) != 1 {
		t.Errorf("token calls by status = %v, want three 200s", tokenCalls)
	}
}

func TestContractRateLimited(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter bool
		want       time.Duration
	}{
		{"without Retry-After, as the real API", false, 0},
		{"with Retry-After", true, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newContractEnv(t, func(c *sandbox.Config) {
				c.RateLimits = []sandbox.RateWindow{{Limit: 1, Window: time.Minute}}
				c.RetryAfter = tt.retryAfter
			})
			c := env.client(t, nil)
			ctx := context.Background()
			if err := c.CreateEmailInvitation(ctx, sandbox.DefaultBusinessUnitID, serviceInvitation()); err != nil {
				t.Fatalf("first invitation: %v", err)
			}
			inv := serviceInvitation()
			inv.ReferenceNumber = "A-1002"
			err := c.CreateEmailInvitation(ctx, sandbox.DefaultBusinessUnitID, inv)
			if !errors.Is(err, ErrRateLimited) || !IsRetryable(err) {
				t.Fatalf("second invitation = %v, want rate limited", err)
			}
			if e, _ := errors.AsType[*APIError](err); e.Status != http.StatusTooManyRequests || e.RetryAfter != tt.want || e.Message == "" {
				t.Errorf("status %d, retryAfter %v, message %q; want 429, %v, the gateway's message", e.Status, e.RetryAfter, e.Message, tt.want)
			}
		})
	}
}

func TestContractFailures(t *testing.T) {
	tests := []struct {
		name     string
		sandbox  func(*sandbox.Config)
		client   func(*Config)
		bu       string
		inv      func(*Invitation)
		want     error
		status   int
		code     string // "": not checked
		msg      string // prefix of Message
		hint     string
		recorded int // invitations the sandbox holds afterwards
	}{
		{name: "HTML 403 from the CDN", sandbox: faults(sandbox.Fault403HTML),
			want: ErrDestinationBroken, status: 403, msg: "ERROR: The request could not be satisfied", hint: "CDN or firewall"},
		{name: "empty 520", sandbox: faults(sandbox.Fault520),
			want: ErrTransient, status: 520},
		{name: "503 gateway fault", sandbox: faults(sandbox.Fault503),
			want: ErrTransient, status: 503, msg: "The Service is temporarily unavailable", code: "messaging.adaptors.http.flow.ServiceUnavailable"},
		{name: "accepted, then 500: the call took effect", sandbox: faults(sandbox.FaultAcceptThen500),
			want: ErrTransient, status: 500, msg: "Internal server error", recorded: 1},
		{name: "no answer within RequestTimeout", sandbox: faults(sandbox.FaultTimeout), client: func(c *Config) { c.RequestTimeout = 100 * time.Millisecond },
			want: ErrTransient, msg: "no complete response within RequestTimeout"},
		{name: "403 errorCode 1014: no business user", client: func(c *Config) { c.BusinessUserID = "" },
			want: ErrDestinationBroken, status: 403, code: "1014", msg: "Access to resource is forbidden", hint: "set BusinessUserID"},
		{name: "403 errorCode 1014: business unit id as business user id", client: func(c *Config) { c.BusinessUserID = sandbox.DefaultBusinessUnitID },
			want: ErrDestinationBroken, status: 403, code: "1014", hint: "business USER id, not the business unit id"},
		{name: "404 unknown business unit", bu: "000000000000000000000000",
			want: ErrDestinationBroken, status: 404, msg: "Business unit not found", hint: "unknown business unit"},
		{name: "400 validation", inv: func(i *Invitation) { i.ConsumerEmail = "not-an-email" },
			want: ErrRejected, status: 400, msg: "consumerEmail is not a valid email address"},
		{name: "400 validation: reference with a forbidden character", inv: func(i *Invitation) { i.ReferenceNumber = "A#1" },
			want: ErrRejected, status: 400},
		{name: "wrong API secret", client: func(c *Config) { c.APISecret = "wrong" },
			want: ErrDestinationBroken, status: 401, code: "invalid_client", hint: "check APIKey and APISecret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newContractEnv(t, tt.sandbox)
			c := env.client(t, tt.client)
			bu := sandbox.DefaultBusinessUnitID
			if tt.bu != "" {
				bu = tt.bu
			}
			inv := serviceInvitation()
			if tt.inv != nil {
				tt.inv(&inv)
			}
			err := c.CreateEmailInvitation(context.Background(), bu, inv)
			if !errors.Is(err, tt.want) {
				t.Fatalf("CreateEmailInvitation = %v, want %v", err, tt.want)
			}
			e, _ := errors.AsType[*APIError](err)
			if e.Status != tt.status || (tt.code != "" && e.ErrorCode != tt.code) || !strings.HasPrefix(e.Message, tt.msg) || !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("got status %d code %q message %q hint %q\nwant status %d code %q message %q... hint ...%q...",
					e.Status, e.ErrorCode, e.Message, e.Hint, tt.status, tt.code, tt.msg, tt.hint)
			}
			if n := len(env.recordedInvitations(t, bu)); n != tt.recorded {
				t.Errorf("sandbox recorded %d invitations, want %d", n, tt.recorded)
			}
		})
	}
}

// faults makes every invitation-host call fail with kind.
func faults(kind sandbox.FaultKind) func(*sandbox.Config) {
	return func(c *sandbox.Config) { c.Faults.Rates = map[sandbox.FaultKind]float64{kind: 1} }
}
