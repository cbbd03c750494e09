package trustpilot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestCreateEmailInvitationRequest(t *testing.T) {
	tests := []struct {
		name string
		inv  Invitation
		want string
	}{
		{
			name: "service only",
			inv:  serviceInvitation(),
			want: `{"consumerEmail":"ann@example.com","consumerName":"Ann Lee","referenceNumber":"A-1001","type":"email","serviceReviewInvitation":{"templateId":"tpl-1"}}`,
		},
		{
			name: "product only, by SKU",
			inv: Invitation{
				ConsumerEmail: "ann@example.com", ConsumerName: "Ann Lee", ReferenceNumber: "A-1001", Locale: "da-DK",
				ProductReviewInvitation: &ProductReviewInvitation{TemplateID: "tpl-p", RedirectURI: "https://shop.example/thanks", ProductSKUs: []string{"SKU-1", "SKU-2"}},
			},
			want: `{"consumerEmail":"ann@example.com","consumerName":"Ann Lee","referenceNumber":"A-1001","locale":"da-DK","type":"email","productReviewInvitation":{"templateId":"tpl-p","redirectUri":"https://shop.example/thanks","productSkus":["SKU-1","SKU-2"]}}`,
		},
		{
			name: "both, every field",
			inv: Invitation{
				ConsumerEmail: "ann@example.com", ConsumerName: "Ann Lee", ReferenceNumber: "A-1001", Locale: "en-US",
				SenderEmail: "noreply@shop.example", SenderName: "Shop", ReplyTo: "care@shop.example", LocationID: "store-7", Type: "email",
				ServiceReviewInvitation: &ServiceReviewInvitation{TemplateID: "tpl-s", PreferredSendTime: "2026-11-25T10:00:00Z", RedirectURI: "https://shop.example/s", Tags: []string{"vip", "eu"}},
				ProductReviewInvitation: &ProductReviewInvitation{TemplateID: "tpl-p", PreferredSendTime: "2026-11-26T10:00:00Z", RedirectURI: "https://shop.example/p",
					Products: []Product{{SKU: "SKU-1", Name: "Mug", ProductURL: "https://shop.example/mug", ImageURL: "https://shop.example/mug.png", MPN: "M1", GTIN: "0123456789012", Brand: "Acme"}}},
			},
			want: `{"consumerEmail":"ann@example.com","consumerName":"Ann Lee","referenceNumber":"A-1001","locale":"en-US","senderEmail":"noreply@shop.example","senderName":"Shop","replyTo":"care@shop.example","locationId":"store-7","type":"email",` +
				`"serviceReviewInvitation":{"templateId":"tpl-s","preferredSendTime":"2026-11-25T10:00:00Z","redirectUri":"https://shop.example/s","tags":["vip","eu"]},` +
				`"productReviewInvitation":{"templateId":"tpl-p","preferredSendTime":"2026-11-26T10:00:00Z","redirectUri":"https://shop.example/p","products":[{"sku":"SKU-1","name":"Mug","productUrl":"https://shop.example/mug","imageUrl":"https://shop.example/mug.png","mpn":"M1","gtin":"0123456789012","brand":"Acme"}]}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTrustpilot(t)
			c := f.client(f.config())
			if err := c.CreateEmailInvitation(context.Background(), testBU, tt.inv); err != nil {
				t.Fatalf("CreateEmailInvitation: %v", err)
			}
			calls := f.invCalls()
			if len(calls) != 1 {
				t.Fatalf("invitation-host calls = %d, want 1", len(calls))
			}
			got := calls[0]
			if got.Method != http.MethodPost || got.Path != "/v1/private/business-units/"+testBU+"/email-invitations" {
				t.Errorf("request %s %s", got.Method, got.Path)
			}
			if got.Body != tt.want {
				t.Errorf("body\n got %s\nwant %s", got.Body, tt.want)
			}
		})
	}
}

func TestInvitationHostHeaders(t *testing.T) {
	tests := []struct {
		name     string
		userID   string
		wantUser []string
	}{
		{"without business user: no x-business-user-id", "", nil},
		{"with business user", testUser, []string{testUser}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTrustpilot(t)
			f.invite = func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/templates") {
					writeJSON(w, http.StatusOK, map[string]any{"templates": []any{}})
				}
			}
			cfg := f.config()
			cfg.BusinessUserID, cfg.UserAgent = tt.userID, "invitepipe/test"
			c := f.client(cfg)
			if err := c.CreateEmailInvitation(context.Background(), testBU, serviceInvitation()); err != nil {
				t.Fatalf("CreateEmailInvitation: %v", err)
			}
			if _, err := c.ListTemplates(context.Background(), testBU); err != nil {
				t.Fatalf("ListTemplates: %v", err)
			}
			calls := f.invCalls()
			if len(calls) != 2 {
				t.Fatalf("invitation-host calls = %d, want 2", len(calls))
			}
			for i, call := range calls {
				h := call.Header
				if got := h.Get("Authorization"); got != "Bearer tok-1" {
					t.Errorf("call %d Authorization = %q, want Bearer tok-1", i, got)
				}
				if got := h.Values("X-Business-User-Id"); fmt.Sprint(got) != fmt.Sprint(tt.wantUser) {
					t.Errorf("call %d x-business-user-id = %q, want %q", i, got, tt.wantUser)
				}
				if got := h.Get("User-Agent"); got != "invitepipe/test" {
					t.Errorf("call %d User-Agent = %q", i, got)
				}
				if h.Get("Apikey") != "" {
					t.Errorf("call %d sends the API key in an apikey header", i)
				}
			}
			if got := calls[0].Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("invitation Content-Type = %q, want application/json", got)
			}
		})
	}
}

func TestSuccessfulAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"200 empty", http.StatusOK, ""},
		{"200 JSON", http.StatusOK, `{"id":"inv-1","status":"queued"}`},
		{"201 empty", http.StatusCreated, ""},
		{"202 text", http.StatusAccepted, "accepted"},
		{"204", http.StatusNoContent, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTrustpilot(t)
			f.invite = func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}
			c := f.client(f.config())
			if err := c.CreateEmailInvitation(context.Background(), testBU, serviceInvitation()); err != nil {
				t.Fatalf("CreateEmailInvitation: %v", err)
			}
		})
	}
}

func TestUnauthorizedRemintsOnce(t *testing.T) {
	tests := []struct {
		name      string
		refuse    func(token string) bool // which tokens the invitations host refuses
		wantErr   error
		wantMints int
		wantCalls int
	}{
		{"expired token: one re-mint, one retry, success", func(tok string) bool { return tok == "tok-1" }, nil, 2, 2},
		{"fresh token refused too: destination broken", func(string) bool { return true }, ErrDestinationBroken, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTrustpilot(t)
			f.invite = func(w http.ResponseWriter, r *http.Request) {
				if tt.refuse(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")) {
					writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized"})
					return
				}
				w.WriteHeader(http.StatusCreated)
			}
			c := f.client(f.config())
			err := c.CreateEmailInvitation(context.Background(), testBU, serviceInvitation())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("CreateEmailInvitation = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "freshly minted token") {
				t.Errorf("error %q lacks the hint", err)
			}
			calls := f.invCalls()
			if f.mintCount() != tt.wantMints || len(calls) != tt.wantCalls {
				t.Fatalf("mints %d, calls %d; want %d, %d", f.mintCount(), len(calls), tt.wantMints, tt.wantCalls)
			}
			if a, b := calls[0].Header.Get("Authorization"), calls[1].Header.Get("Authorization"); a != "Bearer tok-1" || b != "Bearer tok-2" {
				t.Errorf("Authorization of the two calls: %q, %q; want tok-1 then tok-2", a, b)
			}
			if calls[0].Body != calls[1].Body || calls[1].Body == "" {
				t.Errorf("the retry's body %q differs from the first %q", calls[1].Body, calls[0].Body)
			}
		})
	}
}

func TestConcurrentUnauthorizedCauseOneRemint(t *testing.T) {
	f := newFakeTrustpilot(t)
	f.invite = func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer tok-1" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}
	c := f.client(f.config())
	if _, err := c.tokens.Token(context.Background()); err != nil { // every caller starts with tok-1
		t.Fatalf("Token: %v", err)
	}

	const callers = 50
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { errs[i] = c.CreateEmailInvitation(context.Background(), testBU, serviceInvitation()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	if n := f.mintCount(); n != 2 {
		t.Errorf("mints = %d, want 2 (the first and one re-mint)", n)
	}
}

func TestHostsAndPaths(t *testing.T) {
	f := newFakeTrustpilot(t)
	f.invite = func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"templates": []map[string]any{
			{"id": "tpl-1", "name": "Default", "isDefaultTemplate": true, "locale": "en-US", "type": "service"},
			{"id": "tpl-2", "name": "Danish", "isDefaultTemplate": false, "locale": "da-DK", "type": "product"},
		}})
	}
	cfg := f.config()
	cfg.BusinessUserID = testUser
	c := f.client(cfg)

	templates, err := c.ListTemplates(context.Background(), testBU)
	if err != nil {
		t.Fatalf("ListTemplates: %v", err)
	}
	want := []Template{{"tpl-1", "Default", true, "en-US", "service"}, {"tpl-2", "Danish", false, "da-DK", "product"}}
	if fmt.Sprint(templates) != fmt.Sprint(want) {
		t.Errorf("templates = %+v, want %+v", templates, want)
	}
	bu, err := c.FindBusinessUnit(context.Background(), "shop.example")
	if err != nil {
		t.Fatalf("FindBusinessUnit: %v", err)
	}
	if bu != (BusinessUnit{ID: testBU, DisplayName: "Shop"}) {
		t.Errorf("business unit = %+v", bu)
	}

	calls := f.invCalls()
	if len(calls) != 1 || calls[0].Method != http.MethodGet || calls[0].Path != "/v1/private/business-units/"+testBU+"/templates" {
		t.Errorf("invitations host got %+v, want one GET of the templates", calls)
	}
	finds := f.findCalls()
	if len(finds) != 1 {
		t.Fatalf("lookups on the API host = %d, want 1", len(finds))
	}
	h := finds[0].Header
	if finds[0].Query != "name=shop.example" || h.Get("Apikey") != testKey || h.Get("Authorization") != "" || h.Get("X-Business-User-Id") != "" {
		t.Errorf("lookup query %q, apikey %q, Authorization %q, x-business-user-id %q; want name=shop.example, the key, no bearer, no user",
			finds[0].Query, h.Get("Apikey"), h.Get("Authorization"), h.Get("X-Business-User-Id"))
	}
	if n := f.mintCount(); n != 1 {
		t.Errorf("mints = %d, want 1 (the lookup needs none)", n)
	}
}

func TestInvitationsSentToTheAPIHost(t *testing.T) {
	f := newFakeTrustpilot(t)
	cfg := f.config()
	cfg.InvitationsBaseURL = f.api.URL // the classic mistake
	c := f.client(cfg)
	err := c.CreateEmailInvitation(context.Background(), testBU, serviceInvitation())
	if !errors.Is(err, ErrDestinationBroken) {
		t.Fatalf("CreateEmailInvitation = %v, want destination broken", err)
	}
	if e, _ := errors.AsType[*APIError](err); e.Status != http.StatusNotFound || !strings.Contains(e.Hint, "InvitationsBaseURL") {
		t.Errorf("status %d, hint %q; want 404 and a hint naming InvitationsBaseURL", e.Status, e.Hint)
	}
}

func TestFindBusinessUnitFailures(t *testing.T) {
	tests := []struct {
		name   string
		domain string
		status int
		body   string
		want   error
		hint   string
	}{
		{"unknown domain", "nowhere.example", 404, `{"message":"Not found"}`, ErrDestinationBroken, `no business unit has the domain "nowhere.example"`},
		{"bad API key", "shop.example", 401, `{"fault":{"faultstring":"Invalid ApiKey"}}`, ErrDestinationBroken, "refused APIKey"},
		{"2xx without an id", "shop.example", 200, `{"displayName":"?"}`, ErrDestinationBroken, "APIBaseURL"},
		{"2xx not JSON", "shop.example", 200, `<html></html>`, ErrDestinationBroken, "APIBaseURL"},
		{"empty domain: no call", "", 0, ``, ErrRejected, "domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTrustpilot(t)
			f.find = func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}
			c := f.client(f.config())
			_, err := c.FindBusinessUnit(context.Background(), tt.domain)
			if !errors.Is(err, tt.want) {
				t.Fatalf("FindBusinessUnit = %v, want %v", err, tt.want)
			}
			if e, _ := errors.AsType[*APIError](err); !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("hint %q does not contain %q", e.Hint, tt.hint)
			}
			if tt.status == 0 && len(f.findCalls()) != 0 {
				t.Errorf("an empty domain was sent")
			}
		})
	}
}

func TestEmptyBusinessUnitIDIsNotSent(t *testing.T) {
	f := newFakeTrustpilot(t)
	c := f.client(f.config())
	if err := c.CreateEmailInvitation(context.Background(), "", serviceInvitation()); !errors.Is(err, ErrDestinationBroken) {
		t.Fatalf("CreateEmailInvitation = %v, want destination broken", err)
	}
	if len(f.invCalls()) != 0 || f.mintCount() != 0 {
		t.Errorf("calls %d, mints %d; want none", len(f.invCalls()), f.mintCount())
	}
}
