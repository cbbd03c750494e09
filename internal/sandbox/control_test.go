package sandbox

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestListInvitationsFilters(t *testing.T) {
	const other = "0123456789abcdef01234567"
	e := newEnv(t, func(c *Config) {
		c.BusinessUnits = append(c.BusinessUnits, BusinessUnit{ID: other})
		c.FrequencyDays = 0
	})
	tok := e.token()
	for _, c := range []struct{ unit, ref string }{{DefaultBusinessUnitID, "A"}, {DefaultBusinessUnitID, "B"}, {other, "A"}} {
		r := e.do(http.MethodPost, invitationsPath(c.unit), invitation("a@example.com", c.ref),
			"Authorization", "Bearer "+tok, "Content-Type", "application/json", "x-business-user-id", DefaultBusinessUserID)
		if r.status != 202 {
			t.Fatalf("status %d", r.status)
		}
	}
	tests := []struct {
		name, query string
		want        []string // unit/reference, oldest first
	}{
		{"all", "", []string{DefaultBusinessUnitID + "/A", DefaultBusinessUnitID + "/B", other + "/A"}},
		{"by business unit", "?business_unit=" + other, []string{other + "/A"}},
		{"by reference", "?reference=A", []string{DefaultBusinessUnitID + "/A", other + "/A"}},
		{"by both", "?business_unit=" + DefaultBusinessUnitID + "&reference=B", []string{DefaultBusinessUnitID + "/B"}},
		{"no match", "?reference=Z", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(http.MethodGet, "/_sandbox/invitations"+tt.query, "")
			var got []Invitation
			r.json(t, &got)
			keys := []string{}
			for _, inv := range got {
				keys = append(keys, inv.BusinessUnitID+"/"+inv.ReferenceNumber)
				if !strings.Contains(string(inv.Body), `"consumerEmail"`) || inv.APIKey != DefaultAPIKey || inv.Status != StatusSent {
					t.Fatalf("record %+v lacks its body, key or status", inv)
				}
			}
			if !reflect.DeepEqual(keys, tt.want) {
				t.Fatalf("got %v, want %v", keys, tt.want)
			}
		})
	}
}

func TestStats(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RateLimits = []RateWindow{{Limit: 2, Window: time.Minute}} })
	tok := e.token()
	e.token()
	e.invite(tok, invitation("a@example.com", "dup"))
	e.invite(tok, invitation("b@example.com", "dup")) // same reference: a duplicate
	e.invite(tok, invitation("c@example.com", "one")) // 429
	e.clock.Advance(time.Minute)
	e.invite(tok, `{}`) // 400
	e.do(http.MethodGet, "/nowhere", "")

	var got Stats
	e.do(http.MethodGet, "/_sandbox/stats", "").json(t, &got)
	want := Stats{
		Calls: map[string]map[int]int{
			ClassToken:       {200: 2},
			ClassInvitations: {202: 2, 429: 1, 400: 1},
			ClassUnknownPath: {404: 1},
		},
		AcceptedInvitations: 2,
		DuplicateReferences: 1,
		TokensMinted:        2,
		RateWindows:         map[string][]WindowPeak{DefaultAPIKey: {{Limit: RateWindow{2, time.Minute}, MaxCalls: 3}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stats\n got %+v\nwant %+v", got, want)
	}
}

func TestReset(t *testing.T) {
	initial := Faults{Rates: map[FaultKind]float64{Fault520: 0.5}}
	e := newEnv(t, func(c *Config) {
		c.Faults = initial
		c.MintLimit = RateWindow{Limit: 2, Window: time.Hour}
	})
	tok := e.token()
	if err := e.sb.SetFaults(Faults{}); err != nil {
		t.Fatal(err)
	}
	e.invite(tok, invitation("a@example.com", "R"))
	e.token()
	if r := e.mint(DefaultAPIKey, DefaultAPISecret, map[string][]string{"grant_type": {"client_credentials"}}); r.status != 429 {
		t.Fatalf("3rd mint: status %d, want 429", r.status)
	}

	if r := e.do(http.MethodPost, "/_sandbox/reset", ""); r.status != http.StatusNoContent {
		t.Fatalf("reset: status %d", r.status)
	}
	if got := e.sb.Invitations("", ""); len(got) != 0 {
		t.Fatalf("%d invitations after reset", len(got))
	}
	if st := e.sb.Stats(); st.AcceptedInvitations != 0 || st.TokensMinted != 0 || len(st.Calls) != 0 || len(st.RateWindows) != 0 {
		t.Fatalf("stats after reset: %+v", st)
	}
	if got := e.sb.Faults(); !reflect.DeepEqual(got, initial) {
		t.Fatalf("faults after reset %+v, want the configured %+v", got, initial)
	}
	if err := e.sb.SetFaults(Faults{}); err != nil {
		t.Fatal(err)
	}
	if r := e.invite(tok, invitation("a@example.com", "R")); r.status != 202 {
		t.Fatalf("a token issued before the reset: status %d, want 202", r.status)
	}
	e.token() // the mint window was emptied
}
