package sandbox

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var hex24 = regexp.MustCompile(`^[0-9a-f]{24}$`)

func TestTemplates(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token()
	path := "/v1/private/business-units/" + DefaultBusinessUnitID + "/templates"
	list := func() []invitationTemplate {
		var got struct{ Templates []invitationTemplate }
		r := e.do(http.MethodGet, path, "", "Authorization", "Bearer "+tok, "x-business-user-id", DefaultBusinessUserID)
		if r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
		r.json(t, &got)
		return got.Templates
	}
	first := list()
	if len(first) != 2 || first[0].Type != "Service" || first[1].Type != "Product" {
		t.Fatalf("templates %+v, want a service and a product template", first)
	}
	for _, tpl := range first {
		if !hex24.MatchString(tpl.ID) || !tpl.IsDefaultTemplate || tpl.Name == "" || tpl.Locale == "" {
			t.Fatalf("template %+v", tpl)
		}
	}
	if service, product := TemplateIDs(DefaultBusinessUnitID); first[0].ID != service || first[1].ID != product {
		t.Fatalf("template ids %s, %s; TemplateIDs says %s, %s", first[0].ID, first[1].ID, service, product)
	}
	if again := list(); !slices.Equal(again, first) {
		t.Fatalf("template ids changed between calls: %+v then %+v", first, again)
	}
	if r := e.do(http.MethodPost, path, "", "Authorization", "Bearer "+tok); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("POST templates: status %d, want 405", r.status)
	}
}

func TestInvitationLinks(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token()
	path := "/v1/private/business-units/" + DefaultBusinessUnitID + "/invitation-links"
	tests := []struct {
		name, contentType, body string
		wantStatus              int
		wantMsg                 string
	}{
		{"valid", "application/json", `{"referenceId":"A-1","email":"ann@example.com","name":"Ann","locale":"da-DK","tags":["x"],"redirectUri":"https://shop.example/"}`, 200, ""},
		{"missing email", "application/json", `{"referenceId":"A-1","name":"Ann"}`, 400, "email is required"},
		{"bad email", "application/json", `{"referenceId":"A-1","email":"ann","name":"Ann"}`, 400, "email is not a valid"},
		{"reference with &", "application/json", `{"referenceId":"A&1","email":"ann@example.com","name":"Ann"}`, 400, "referenceId must not contain"},
		{"bad locale", "application/json", `{"referenceId":"A-1","email":"ann@example.com","name":"Ann","locale":"english"}`, 400, "locale"},
		{"form body", "application/x-www-form-urlencoded", `referenceId=A-1`, 415, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(http.MethodPost, path, tt.body, "Authorization", "Bearer "+tok,
				"x-business-user-id", DefaultBusinessUserID, "Content-Type", tt.contentType)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", r.status, r.body, tt.wantStatus)
			}
			if tt.wantStatus == 200 {
				var link struct{ ID, URL string }
				r.json(t, &link)
				if link.ID == "" || !strings.HasSuffix(link.URL, "/"+link.ID) {
					t.Fatalf("link %s", r.body)
				}
				return
			}
			if m := apiError(t, r); !strings.Contains(m.Message, tt.wantMsg) {
				t.Fatalf("message %q does not mention %q", m.Message, tt.wantMsg)
			}
		})
	}
	if got := len(e.sb.Invitations("", "")); got != 0 {
		t.Fatalf("links recorded %d email invitations", got)
	}
}

func TestDeleteInvitationData(t *testing.T) {
	const other = "0123456789abcdef01234567"
	day := 24 * time.Hour
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantLeft   []string // references left, oldest first
	}{
		{"by emails, any case", `{"customerEmails":["ANN@example.com","nobody@example.com"]}`, 200, []string{"bo-1", "other-ann"}},
		{"older than a date", `{"deleteOlderThan":"2026-11-26"}`, 200, []string{"bo-1", "other-ann"}},
		{"older than a time", `{"deleteOlderThan":"2026-11-26T10:00:01"}`, 200, []string{"other-ann"}},
		{"both", `{"customerEmails":["ann@example.com"],"deleteOlderThan":"2026-11-26"}`, 400, []string{"ann-1", "ann-2", "bo-1", "other-ann"}},
		{"neither", `{}`, 400, []string{"ann-1", "ann-2", "bo-1", "other-ann"}},
		{"empty email list", `{"customerEmails":[]}`, 400, []string{"ann-1", "ann-2", "bo-1", "other-ann"}},
		{"bad date", `{"deleteOlderThan":"yesterday"}`, 400, []string{"ann-1", "ann-2", "bo-1", "other-ann"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.BusinessUnits = append(c.BusinessUnits, BusinessUnit{ID: other}) })
			tok := e.token()
			post := func(unit, path, body string) response {
				return e.do(http.MethodPost, "/v1/private/business-units/"+unit+path, body, "Authorization", "Bearer "+tok,
					"x-business-user-id", DefaultBusinessUserID, "Content-Type", "application/json")
			}
			post(DefaultBusinessUnitID, "/email-invitations", invitation("ann@example.com", "ann-1"))
			post(DefaultBusinessUnitID, "/email-invitations", invitation("ann@example.com", "ann-2"))
			post(other, "/email-invitations", invitation("ann@example.com", "other-ann"))
			e.clock.Advance(day)
			post(DefaultBusinessUnitID, "/email-invitations", invitation("bo@example.com", "bo-1"))

			r := post(DefaultBusinessUnitID, "/invitation-data/delete", tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", r.status, r.body, tt.wantStatus)
			}
			if r.status == 200 && len(r.body) != 0 {
				t.Fatalf("body %q, want empty", r.body)
			}
			var left []string
			for _, inv := range e.sb.Invitations("", "") {
				left = append(left, inv.ReferenceNumber)
			}
			slices.Sort(left)
			if !slices.Equal(left, tt.wantLeft) {
				t.Fatalf("left %v, want %v", left, tt.wantLeft)
			}
		})
	}
}

func TestDeleteForgetsFrequencyHistory(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token()
	e.invite(tok, invitation("ann@example.com", "1"))
	path := "/v1/private/business-units/" + DefaultBusinessUnitID + "/invitation-data/delete"
	r := e.do(http.MethodPost, path, `{"customerEmails":["ann@example.com"]}`, "Authorization", "Bearer "+tok,
		"x-business-user-id", DefaultBusinessUserID, "Content-Type", "application/json")
	if r.status != 200 {
		t.Fatalf("delete: status %d", r.status)
	}
	e.invite(tok, invitation("ann@example.com", "2"))
	if got := e.sb.Invitations("", "2"); len(got) != 1 || got[0].Status != StatusSent {
		t.Fatalf("after deleting the history: %+v, want sent", got)
	}
}

func TestFindBusinessUnit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BusinessUnits = append(c.BusinessUnits, BusinessUnit{ID: "nodomain"}) })
	tests := []struct {
		name, query string
		hdr         []string
		wantStatus  int
	}{
		{"by domain", "?name=shop.example", []string{"apikey", DefaultAPIKey}, 200},
		{"domain in other case", "?name=Shop.Example", []string{"apikey", DefaultAPIKey}, 200},
		{"apikey as query parameter", "?name=shop.example&apikey=" + DefaultAPIKey, nil, 200},
		{"unknown domain", "?name=nowhere.example", []string{"apikey", DefaultAPIKey}, 404},
		{"no name", "", []string{"apikey", DefaultAPIKey}, 400},
		{"unknown api key", "?name=shop.example", []string{"apikey", "nope"}, 401},
		{"no api key", "?name=shop.example", nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(http.MethodGet, "/v1/business-units/find"+tt.query, "", tt.hdr...)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", r.status, r.body, tt.wantStatus)
			}
			if r.status != 200 {
				return
			}
			var bu struct{ ID, DisplayName string }
			r.json(t, &bu)
			if bu.ID != DefaultBusinessUnitID || bu.DisplayName != DefaultDomain {
				t.Fatalf("found %s", r.body)
			}
		})
	}
}

func TestUnknownPath(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(http.MethodGet, "/v1/private/nothing", "")
	if r.status != http.StatusNotFound {
		t.Fatalf("status %d, want 404", r.status)
	}
	apiError(t, r)
}
