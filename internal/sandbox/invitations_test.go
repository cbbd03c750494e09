package sandbox

import (
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCreateInvitationAccepted(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SendDelay = 7 * 24 * time.Hour })
	body := invitation("ann@example.com", "A-1001")
	r := e.invite(e.token(), body)
	if r.status != http.StatusAccepted || len(r.body) != 0 {
		t.Fatalf("status %d body %q, want 202 with an empty body", r.status, r.body)
	}
	got := e.sb.Invitations("", "")
	if len(got) != 1 {
		t.Fatalf("%d invitations recorded, want 1", len(got))
	}
	inv := got[0]
	want := Invitation{
		ID: inv.ID, BusinessUnitID: DefaultBusinessUnitID, ReferenceNumber: "A-1001",
		ConsumerEmail: "ann@example.com", ConsumerName: "Ann Lee", Type: "service",
		Status: StatusNotSent, CreatedAt: start, SendAt: start.Add(7 * 24 * time.Hour), APIKey: DefaultAPIKey,
	}
	inv.Body = nil
	if inv.ID == "" || !reflect.DeepEqual(inv, want) {
		t.Fatalf("recorded %+v,\nwant %+v", inv, want)
	}
	if string(got[0].Body) != body {
		t.Fatalf("body recorded %s, want as sent %s", got[0].Body, body)
	}
}

func TestCreateInvitationRefusals(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Users = []User{{Username: "ann", Password: "pw"}}
	})
	cc := e.token()
	var pr tokenResponse
	e.mint(DefaultAPIKey, DefaultAPISecret, url.Values{"grant_type": {"password"}, "username": {"ann"}, "password": {"pw"}}).json(t, &pr)
	body := invitation("ann@example.com", "A-1")
	tests := []struct {
		name          string
		token         string
		businessUnit  string
		businessUser  string // "-" for no header
		contentType   string
		wantStatus    int
		wantErrorCode int
	}{
		{"well formed", cc, DefaultBusinessUnitID, DefaultBusinessUserID, "application/json", 202, 0},
		{"charset in content type", cc, DefaultBusinessUnitID, DefaultBusinessUserID, "application/json; charset=utf-8", 202, 0},
		{"password token needs no business user", pr.AccessToken, DefaultBusinessUnitID, "-", "application/json", 202, 0},
		{"text/plain", cc, DefaultBusinessUnitID, DefaultBusinessUserID, "text/plain", 415, 0},
		{"no content type", cc, DefaultBusinessUnitID, DefaultBusinessUserID, "", 415, 0},
		{"unknown business unit", cc, "ffffffffffffffffffffffff", DefaultBusinessUserID, "application/json", 404, 0},
		{"business unit id as business user", cc, DefaultBusinessUnitID, DefaultBusinessUnitID, "application/json", 403, 1014},
		{"no business user header", cc, DefaultBusinessUnitID, "-", "application/json", 403, 1014},
		{"unknown business user", cc, DefaultBusinessUnitID, "000000000000000000000000", "application/json", 403, 1014},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.sb.Invitations("", ""))
			hdr := []string{"Authorization", "Bearer " + tt.token, "Content-Type", tt.contentType}
			if tt.businessUser != "-" {
				hdr = append(hdr, "x-business-user-id", tt.businessUser)
			}
			r := e.do(http.MethodPost, invitationsPath(tt.businessUnit), body, hdr...)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", r.status, r.body, tt.wantStatus)
			}
			recorded := len(e.sb.Invitations("", "")) - before
			if tt.wantStatus == 202 {
				if recorded != 1 {
					t.Fatalf("%d invitations recorded, want 1", recorded)
				}
				return
			}
			if recorded != 0 {
				t.Fatalf("a refused call recorded %d invitations", recorded)
			}
			m := apiError(t, r)
			if m.ErrorCode != tt.wantErrorCode {
				t.Fatalf("errorCode = %d, want %d", m.ErrorCode, tt.wantErrorCode)
			}
			if tt.wantStatus == 403 && m.Message != "Access to resource is forbidden" {
				t.Fatalf("message = %q", m.Message)
			}
		})
	}
}

func TestBusinessUserHeaderUncheckedWithoutBusinessUsers(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BusinessUsers = nil })
	r := e.do(http.MethodPost, invitationsPath(DefaultBusinessUnitID), invitation("a@example.com", "R"),
		"Authorization", "Bearer "+e.token(), "Content-Type", "application/json")
	if r.status != http.StatusAccepted {
		t.Fatalf("status = %d (%s), want 202", r.status, r.body)
	}
}

func TestCreateInvitationValidation(t *testing.T) {
	// base is a valid invitation; each case replaces one piece of it.
	const service = `"serviceReviewInvitation":{"templateId":"t","preferredSendTime":"2026-12-01T10:00:00","redirectUri":"https://shop.example/thanks","tags":["a"]}`
	const product = `"productReviewInvitation":{"templateId":"p","productSkus":["SKU-1"]}`
	base := func(parts ...string) string {
		fields := map[string]string{
			"email": `"consumerEmail":"ann@example.com"`, "name": `"consumerName":"Ann Lee"`,
			"ref": `"referenceNumber":"A-1001"`, "locale": `"locale":"en-US"`, "type": `"type":"email"`,
			"service": service, "product": "",
		}
		for i := 0; i+1 < len(parts); i += 2 {
			fields[parts[i]] = parts[i+1]
		}
		var out []string
		for _, k := range []string{"email", "name", "ref", "locale", "type", "service", "product"} {
			if fields[k] != "" {
				out = append(out, fields[k])
			}
		}
		return "{" + strings.Join(out, ",") + "}"
	}
	tests := []struct {
		name    string
		body    string
		wantMsg string // in the 400 message; "" means the call is accepted
	}{
		{"valid service invitation", base(), ""},
		{"valid with both parts", base("product", `"productReviewInvitation":{"productSkus":["S"],"preferredSendTime":"2026-12-02T10:00:00"}`), ""},
		{"valid products list", base("service", "", "product", `"productReviewInvitation":{"products":[{"sku":"S","name":"Mug","productUrl":"https://x.example/m"}]}`), ""},
		{"valid without any part", base("service", ""), ""},
		{"valid without type", base("type", ""), ""},
		{"locale in any case", base("locale", `"locale":"EN-us"`), ""},
		{"send time with Z", base("service", `"serviceReviewInvitation":{"preferredSendTime":"2026-12-01T10:00:00Z"}`), ""},
		{"send time in US format", base("service", `"serviceReviewInvitation":{"preferredSendTime":"12/01/2026 10:00:00"}`), ""},
		{"unknown fields ignored", base("type", `"type":"email","extra":1`), ""},
		{"not JSON", `{"consumerEmail":`, "JSON object"},
		{"a JSON array", `[]`, "JSON object"},
		{"missing email", base("email", ""), "consumerEmail is required"},
		{"blank email", base("email", `"consumerEmail":"  "`), "consumerEmail is required"},
		{"email of wrong type", base("email", `"consumerEmail":42`), "consumerEmail must be a string"},
		{"email key in other case", base("email", `"ConsumerEmail":"ann@example.com"`), "consumerEmail is required"},
		{"email without @", base("email", `"consumerEmail":"ann.example.com"`), "not a valid email"},
		{"email without dot in domain", base("email", `"consumerEmail":"ann@localhost"`), "not a valid email"},
		{"email with display name", base("email", `"consumerEmail":"Ann <ann@example.com>"`), "not a valid email"},
		{"missing name", base("name", ""), "consumerName is required"},
		{"missing reference", base("ref", ""), "referenceNumber is required"},
		{"reference with #", base("ref", `"referenceNumber":"A#1"`), "referenceNumber must not contain"},
		{"reference with *", base("ref", `"referenceNumber":"A*1"`), "referenceNumber must not contain"},
		{"reference with +", base("ref", `"referenceNumber":"A+1"`), "referenceNumber must not contain"},
		{"reference with quote", base("ref", `"referenceNumber":"A\"1"`), "referenceNumber must not contain"},
		{"reference with %", base("ref", `"referenceNumber":"A%1"`), "referenceNumber must not contain"},
		{"reference with &", base("ref", `"referenceNumber":"A&1"`), "referenceNumber must not contain"},
		{"locale with underscore", base("locale", `"locale":"en_US"`), "locale must look like en-US"},
		{"locale language only", base("locale", `"locale":"en"`), "locale must look like en-US"},
		{"type sms", base("type", `"type":"sms"`), `type must be "email"`},
		{"bad sender email", base("type", `"type":"email","senderEmail":"nope"`), "senderEmail is not a valid email"},
		{"bad reply-to", base("type", `"type":"email","replyTo":"nope@"`), "replyTo is not a valid email"},
		{"service part not an object", base("service", `"serviceReviewInvitation":"yes"`), "serviceReviewInvitation must be an object"},
		{"tags not strings", base("service", `"serviceReviewInvitation":{"tags":[1]}`), "tags must be an array of strings"},
		{"relative redirect", base("service", `"serviceReviewInvitation":{"redirectUri":"/thanks"}`), "redirectUri must be an absolute"},
		{"send time with offset", base("service", `"serviceReviewInvitation":{"preferredSendTime":"2026-12-01T10:00:00+02:00"}`), "preferredSendTime must be a UTC time"},
		{"send time with fraction", base("service", `"serviceReviewInvitation":{"preferredSendTime":"2026-12-01T10:00:00.000Z"}`), "preferredSendTime must be a UTC time"},
		{"send time date only", base("service", `"serviceReviewInvitation":{"preferredSendTime":"2026-12-01"}`), "preferredSendTime must be a UTC time"},
		{"send time impossible date", base("service", `"serviceReviewInvitation":{"preferredSendTime":"2026-13-01T10:00:00"}`), "preferredSendTime must be a UTC time"},
		{"product before service", base("product", `"productReviewInvitation":{"productSkus":["S"],"preferredSendTime":"2026-11-30T10:00:00"}`), "must be before"},
		{"product at the same time as service", base("product", `"productReviewInvitation":{"productSkus":["S"],"preferredSendTime":"2026-12-01T10:00:00Z"}`), "must be before"},
		{"skus and products", base("product", `"productReviewInvitation":{"productSkus":["S"],"products":[{"sku":"S","name":"n"}]}`), "cannot both be given"},
		{"neither skus nor products", base("product", `"productReviewInvitation":{"templateId":"p"}`), "one of productSkus or products is required"},
		{"empty skus", base("product", `"productReviewInvitation":{"productSkus":[]}`), "empty"},
		{"blank sku", base("product", `"productReviewInvitation":{"productSkus":[" "]}`), "productSkus[0] is blank"},
		{"product without sku", base("product", `"productReviewInvitation":{"products":[{"name":"Mug"}]}`), "products[0].sku is required"},
		{"product not an object", base("product", `"productReviewInvitation":{"products":["Mug"]}`), "products[0] must be an object"},
	}
	e := newEnv(t, nil)
	tok := e.token()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.sb.Reset()
			r := e.invite(tok, tt.body)
			recorded := len(e.sb.Invitations("", ""))
			if tt.wantMsg == "" {
				if r.status != http.StatusAccepted || recorded != 1 {
					t.Fatalf("status %d (%s), %d recorded; want 202 and 1 recorded", r.status, r.body, recorded)
				}
				return
			}
			if r.status != http.StatusBadRequest || recorded != 0 {
				t.Fatalf("status %d (%s), %d recorded; want 400 and nothing recorded", r.status, r.body, recorded)
			}
			if m := apiError(t, r); !strings.Contains(m.Message, tt.wantMsg) {
				t.Fatalf("message %q does not mention %q", m.Message, tt.wantMsg)
			}
		})
	}
}

func TestInvitationTypeAndSendTime(t *testing.T) {
	delay := 7 * 24 * time.Hour
	tests := []struct {
		name     string
		parts    string
		wantType string
		wantSend time.Time
	}{
		{"service without time", `"serviceReviewInvitation":{}`, "service", start.Add(delay)},
		{"no part", ``, "service", start.Add(delay)},
		{"product with time", `"productReviewInvitation":{"productSkus":["S"],"preferredSendTime":"2026-11-26T08:00:00"}`, "product", time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)},
		{"service time later than the delay", `"serviceReviewInvitation":{"preferredSendTime":"2027-01-01T00:00:00Z"}`, "service", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"both, earliest wins", `"serviceReviewInvitation":{"preferredSendTime":"11/27/2026 09:30:00"},"productReviewInvitation":{"productSkus":["S"],"preferredSendTime":"2026-11-28T00:00:00"}`, "both", time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)},
		{"both, untimed product waits for the delay", `"serviceReviewInvitation":{"preferredSendTime":"2027-01-01T00:00:00"},"productReviewInvitation":{"productSkus":["S"]}`, "both", start.Add(delay)},
	}
	e := newEnv(t, func(c *Config) { c.SendDelay = delay })
	tok := e.token()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := "R-" + string(rune('a'+i))
			body := `{"consumerEmail":"ann@example.com","consumerName":"Ann","referenceNumber":"` + ref + `"`
			if tt.parts != "" {
				body += "," + tt.parts
			}
			if r := e.invite(tok, body+"}"); r.status != http.StatusAccepted {
				t.Fatalf("status %d (%s)", r.status, r.body)
			}
			got := e.sb.Invitations(DefaultBusinessUnitID, ref)
			if len(got) != 1 || got[0].Type != tt.wantType || !got[0].SendAt.Equal(tt.wantSend) {
				t.Fatalf("recorded %+v, want type %s due %s", got, tt.wantType, tt.wantSend)
			}
		})
	}
}

func TestSendTimeAndFrequencyRule(t *testing.T) {
	day := 24 * time.Hour
	e := newEnv(t, func(c *Config) {
		c.SendDelay = day
		c.BusinessUnits = append(c.BusinessUnits, BusinessUnit{ID: "otherunit"})
	})
	tok := e.token()
	invite := func(unit, email, ref string) {
		t.Helper()
		r := e.do(http.MethodPost, invitationsPath(unit), invitation(email, ref),
			"Authorization", "Bearer "+tok, "Content-Type", "application/json", "x-business-user-id", DefaultBusinessUserID)
		if r.status != http.StatusAccepted {
			t.Fatalf("invite %s: status %d (%s)", ref, r.status, r.body)
		}
	}
	status := func(ref string) Status {
		t.Helper()
		got := e.sb.Invitations("", ref)
		if len(got) != 1 {
			t.Fatalf("%d invitations with reference %s", len(got), ref)
		}
		return got[0].Status
	}

	invite(DefaultBusinessUnitID, "ann@example.com", "first")
	e.clock.Advance(day - time.Second)
	if s := status("first"); s != StatusNotSent {
		t.Fatalf("one second before send time: %s, want notsent", s)
	}
	e.clock.Advance(time.Second)
	if s := status("first"); s != StatusSent {
		t.Fatalf("at send time: %s, want sent", s)
	}

	invite(DefaultBusinessUnitID, "ANN@example.com", "same email other case")
	invite("otherunit", "ann@example.com", "other business unit")
	e.clock.Advance(day)
	for ref, want := range map[string]Status{"same email other case": StatusSuppressed, "other business unit": StatusSent} {
		if s := status(ref); s != want {
			t.Errorf("%s: %s, want %s", ref, s, want)
		}
	}

	// 365 days after the first was sent, the same email may get one again
	e.clock.Advance(365*day - 2*day)
	tok = e.token() // the first one expired long ago
	invite(DefaultBusinessUnitID, "ann@example.com", "a year later")
	e.clock.Advance(day)
	if s := status("a year later"); s != StatusSent {
		t.Fatalf("a year after: %s, want sent", s)
	}
}

func TestFrequencyRuleFollowsSendTimeOrder(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SendDelay = 10 * 24 * time.Hour })
	tok := e.token()
	// created first but due later: the later-created, earlier-due one is sent
	for _, body := range []string{
		invitation("bo@example.com", "late"),
		`{"consumerEmail":"bo@example.com","consumerName":"Bo","referenceNumber":"early","serviceReviewInvitation":{"preferredSendTime":"2026-11-26T10:00:00"}}`,
	} {
		if r := e.invite(tok, body); r.status != http.StatusAccepted {
			t.Fatalf("status %d (%s)", r.status, r.body)
		}
	}
	e.clock.Advance(30 * 24 * time.Hour)
	got := map[string]Status{}
	for _, inv := range e.sb.Invitations("", "") {
		got[inv.ReferenceNumber] = inv.Status
	}
	if got["early"] != StatusSent || got["late"] != StatusSuppressed {
		t.Fatalf("statuses %v, want early sent and late suppressed", got)
	}
}

func TestFrequencyZeroSendsEveryInvitation(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.FrequencyDays = 0 })
	tok := e.token()
	for _, ref := range []string{"1", "2", "3"} {
		e.invite(tok, invitation("cy@example.com", ref))
	}
	for _, inv := range e.sb.Invitations("", "") {
		if inv.Status != StatusSent {
			t.Fatalf("%s: %s, want sent", inv.ReferenceNumber, inv.Status)
		}
	}
}

func TestConcurrentInvitations(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token()
	const n = 40
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Go(func() {
			statuses[i] = e.invite(tok, invitation("d@example.com", "C-"+strconv.Itoa(i))).status
		})
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusAccepted {
			t.Fatalf("call %d: status %d", i, s)
		}
	}
	if st := e.sb.Stats(); st.AcceptedInvitations != n || st.Calls[ClassInvitations][202] != n {
		t.Fatalf("stats %+v, want %d accepted", st, n)
	}
}
