package destination

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/ratelimit"
	"github.com/invitepipe/invitepipe/internal/trustpilot"
)

const file = `
destinations:
  - name: shop-eu
    business_unit_id: 507f191e810c19729de860ea
    credentials: { api_key_env: EU_KEY, api_secret_env: EU_SECRET, business_user_id_env: EU_USER }
    rate_limit: { per_5min: 50, windows: [{ calls: 5, per: 2s }] }
  - name: shop-us
    business_unit_id: 507f191e810c19729de860eb
    credentials: { api_key_env: US_KEY, api_secret_env: US_SECRET, username_env: US_LOGIN, password_env: US_PASSWORD }
activations:
  - id: a
    destination: shop-eu
    invitation_type: service
    mapping: { consumer_name: n, consumer_email: e, reference_number: r }
`

var tp = config.Trustpilot{APIURL: "http://127.0.0.1:8089", InvitationsURL: "http://127.0.0.1:8089", RequestTimeout: time.Second}

func env(m map[string]string) LookupEnv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestBuild(t *testing.T) {
	f, err := activation.Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]string{"EU_KEY": "k", "EU_SECRET": "s\n", "EU_USER": "u", "US_KEY": "k2", "US_SECRET": "s2", "US_LOGIN": "l", "US_PASSWORD": "p"}
	got, err := Build(f, tp, env(all), nil)
	if err != nil {
		t.Fatal(err)
	}
	eu := got["shop-eu"]
	if eu == nil || eu.BusinessUnitID != "507f191e810c19729de860ea" || eu.Client == nil {
		t.Fatalf("shop-eu = %+v", eu)
	}
	// Each destination is alone on its key, which has the destination's budget.
	want := ratelimit.Budget{Key: keyHash("k"), KeyLimits: []ratelimit.Limit{
		{Count: 5, Window: 2 * time.Second}, {Count: 50, Window: 5 * time.Minute}, {Count: 10000, Window: time.Hour}}}
	if !reflect.DeepEqual(eu.Budget, want) {
		t.Errorf("shop-eu budget = %+v, want %+v", eu.Budget, want)
	}
	wantUS := ratelimit.Budget{Key: keyHash("k2"), KeyLimits: []ratelimit.Limit{{Count: 833, Window: 5 * time.Minute}, {Count: 10000, Window: time.Hour}}}
	if us := got["shop-us"]; us == nil || !reflect.DeepEqual(us.Budget, wantUS) {
		t.Errorf("shop-us = %+v, want budget %+v", us, wantUS)
	}
	budgets, _, err := Budgets(f, env(all))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range budgets {
		if !reflect.DeepEqual(got[name].Budget, b) {
			t.Errorf("%s: Build's budget %+v, Budgets' %+v", name, got[name].Budget, b)
		}
	}
	cfg, _ := clientConfig(f.Destinations[0], tp, env(all))
	if cfg.Grant != trustpilot.GrantClientCredentials || cfg.APISecret != "s" || cfg.BusinessUserID != "u" {
		t.Errorf("shop-eu config = grant %q secret %q user %q", cfg.Grant, cfg.APISecret, cfg.BusinessUserID)
	}
	cfg, _ = clientConfig(f.Destinations[1], tp, env(all))
	if cfg.Grant != trustpilot.GrantPassword || cfg.Username != "l" || cfg.Password != "p" {
		t.Errorf("shop-us config = grant %q user %q", cfg.Grant, cfg.Username)
	}
}

func TestBuildNamesEveryMissingVariableAndNoValue(t *testing.T) {
	f, err := activation.Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(f, tp, env(map[string]string{"EU_KEY": "super-secret-key", "EU_SECRET": "  ", "US_KEY": "k2", "US_SECRET": "s2", "US_LOGIN": "l"}), nil)
	if err == nil {
		t.Fatal("Build succeeded with missing variables")
	}
	want := "destination shop-eu: environment variable EU_SECRET, EU_USER is not set; set it to the destination's secret (the activation file names it)\n" +
		"destination shop-us: environment variable US_PASSWORD is not set; set it to the destination's secret (the activation file names it)"
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	if strings.Contains(err.Error(), "super-secret-key") {
		t.Error("error reveals a secret")
	}
}

func TestBudgets(t *testing.T) {
	const activations = `
activations:
  - id: a
    destination: a
    invitation_type: service
    mapping: { consumer_name: n, consumer_email: e, reference_number: r }
`
	// dest is a destination of the file whose API key is the variable key.
	dest := func(name, key, more string) string {
		return "  - name: " + name + "\n    business_unit_id: bu-" + name +
			"\n    credentials: { api_key_env: " + key + ", api_secret_env: SECRET" + more + "\n"
	}
	lim := func(count int, window time.Duration) ratelimit.Limit {
		return ratelimit.Limit{Count: count, Window: window}
	}
	const m1, m5, h1 = time.Minute, 5 * time.Minute, time.Hour
	// guidance is Trustpilot's, the default of every budget.
	guidance := []ratelimit.Limit{lim(833, m5), lim(10000, h1)}
	vars := map[string]string{"SECRET": "s", "KEY_1": "key-one", "KEY_1_AGAIN": " key-one\n", "KEY_2": "key-two"}
	one, two := keyHash("key-one"), keyHash("key-two")
	tests := []struct {
		name         string
		destinations string
		wantBudgets  map[string]ratelimit.Budget
		wantGroups   []KeyBudget
	}{
		{
			name:         "alone on its key: the destination's rate_limit is the key's, no extra cap",
			destinations: dest("a", "KEY_1", " }\n    rate_limit: { per_5min: 60, windows: [{ calls: 10, per: 1m }] }"),
			wantBudgets:  map[string]ratelimit.Budget{"a": {Key: one, KeyLimits: []ratelimit.Limit{lim(10, m1), lim(60, m5), lim(10000, h1)}}},
			wantGroups:   []KeyBudget{{Key: one, Destinations: []string{"a"}, Windows: []ratelimit.Limit{lim(10, m1), lim(60, m5), lim(10000, h1)}}},
		},
		{
			name: "one key value under two variable names: one budget, the smallest count per window, shared fairly",
			destinations: dest("a", "KEY_1", " }\n    rate_limit: { per_5min: 60 }") +
				dest("b", "KEY_1_AGAIN", " }\n    rate_limit: { per_5min: 100, per_hour: 500 }"),
			wantBudgets: map[string]ratelimit.Budget{
				"a": {Key: one, KeyLimits: []ratelimit.Limit{lim(60, m5), lim(500, h1)}, Destination: "a", Shared: true},
				"b": {Key: one, KeyLimits: []ratelimit.Limit{lim(60, m5), lim(500, h1)}, Destination: "b", Shared: true},
			},
			wantGroups: []KeyBudget{{Key: one, Destinations: []string{"a", "b"}, Windows: []ratelimit.Limit{lim(60, m5), lim(500, h1)}}},
		},
		{
			name: "declared key budgets: the smallest per length, every further window; own rate_limit an extra cap",
			destinations: dest("b", "KEY_1", ", rate_limit: { per_5min: 500, windows: [{ calls: 100, per: 1m }] } }\n    rate_limit: { per_5min: 60 }") +
				dest("a", "KEY_1", ", rate_limit: { per_5min: 300, windows: [{ calls: 2000, per: 24h }] } }"),
			wantBudgets: map[string]ratelimit.Budget{
				"a": {Key: one, KeyLimits: []ratelimit.Limit{lim(100, m1), lim(300, m5), lim(10000, h1), lim(2000, 24*h1)}, Destination: "a", Shared: true},
				"b": {Key: one, KeyLimits: []ratelimit.Limit{lim(100, m1), lim(300, m5), lim(10000, h1), lim(2000, 24*h1)},
					Destination: "b", Limits: []ratelimit.Limit{lim(60, m5)}, Shared: true},
			},
			wantGroups: []KeyBudget{{Key: one, Destinations: []string{"a", "b"}, Windows: []ratelimit.Limit{lim(100, m1), lim(300, m5), lim(10000, h1), lim(2000, 24*h1)}}},
		},
		{
			name: "a destination without a declared key budget brings its rate_limit to the key's",
			destinations: dest("a", "KEY_1", ", rate_limit: { per_5min: 833, per_hour: 10000 } }") +
				dest("b", "KEY_1", " }\n    rate_limit: { per_5min: 60 }"),
			wantBudgets: map[string]ratelimit.Budget{
				"a": {Key: one, KeyLimits: []ratelimit.Limit{lim(60, m5), lim(10000, h1)}, Destination: "a", Shared: true},
				"b": {Key: one, KeyLimits: []ratelimit.Limit{lim(60, m5), lim(10000, h1)}, Destination: "b", Shared: true},
			},
			wantGroups: []KeyBudget{{Key: one, Destinations: []string{"a", "b"}, Windows: []ratelimit.Limit{lim(60, m5), lim(10000, h1)}}},
		},
		{
			name: "two keys: two budgets",
			destinations: dest("a", "KEY_1", " }\n    rate_limit: { per_5min: 60 }") +
				dest("b", "KEY_2", " }\n    rate_limit: { per_5min: 60 }"),
			wantBudgets: map[string]ratelimit.Budget{
				"a": {Key: one, KeyLimits: []ratelimit.Limit{lim(60, m5), lim(10000, h1)}},
				"b": {Key: two, KeyLimits: []ratelimit.Limit{lim(60, m5), lim(10000, h1)}},
			},
			wantGroups: []KeyBudget{
				{Key: one, Destinations: []string{"a"}, Windows: []ratelimit.Limit{lim(60, m5), lim(10000, h1)}},
				{Key: two, Destinations: []string{"b"}, Windows: []ratelimit.Limit{lim(60, m5), lim(10000, h1)}},
			},
		},
		{
			name:         "huge counts mean no limit: listed, not enforced",
			destinations: dest("a", "KEY_1", " }\n    rate_limit: { per_5min: 1000000000, per_hour: 12000000000 }"),
			wantBudgets:  map[string]ratelimit.Budget{"a": {Key: one}},
			wantGroups:   []KeyBudget{{Key: one, Destinations: []string{"a"}, Windows: []ratelimit.Limit{lim(1_000_000_000, m5), lim(12_000_000_000, h1)}}},
		},
		{
			name:         "unlimited key, capped destination",
			destinations: dest("a", "KEY_1", ", rate_limit: { per_5min: 1000000, per_hour: 1000000 } }\n    rate_limit: { per_5min: 60, per_hour: 1000000 }"),
			wantBudgets:  map[string]ratelimit.Budget{"a": {Key: one, Destination: "a", Limits: []ratelimit.Limit{lim(60, m5)}}},
			wantGroups:   []KeyBudget{{Key: one, Destinations: []string{"a"}, Windows: []ratelimit.Limit{lim(1_000_000, m5), lim(1_000_000, h1)}}},
		},
		{
			name:         "a longer key window with fewer calls implies the destination's shorter one",
			destinations: dest("a", "KEY_1", ", rate_limit: { per_hour: 50 } }\n    rate_limit: { per_5min: 60, per_hour: 400 }"),
			wantBudgets:  map[string]ratelimit.Budget{"a": {Key: one, KeyLimits: []ratelimit.Limit{lim(833, m5), lim(50, h1)}}},
			wantGroups:   []KeyBudget{{Key: one, Destinations: []string{"a"}, Windows: []ratelimit.Limit{lim(833, m5), lim(50, h1)}}},
		},
		{
			name:         "the guidance everywhere",
			destinations: dest("a", "KEY_1", " }") + dest("b", "KEY_1", " }"),
			wantBudgets: map[string]ratelimit.Budget{
				"a": {Key: one, KeyLimits: guidance, Destination: "a", Shared: true},
				"b": {Key: one, KeyLimits: guidance, Destination: "b", Shared: true},
			},
			wantGroups: []KeyBudget{{Key: one, Destinations: []string{"a", "b"}, Windows: guidance}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := activation.Parse([]byte("destinations:\n" + tt.destinations + activations))
			if err != nil {
				t.Fatal(err)
			}
			budgets, groups, err := Budgets(f, env(vars))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(budgets, tt.wantBudgets) {
				t.Errorf("budgets:\n%+v\nwant:\n%+v", budgets, tt.wantBudgets)
			}
			if !reflect.DeepEqual(groups, tt.wantGroups) {
				t.Errorf("key budgets:\n%+v\nwant:\n%+v", groups, tt.wantGroups)
			}
			built, err := Build(f, tp, env(vars), nil)
			if err != nil {
				t.Fatal(err)
			}
			for name, d := range built {
				if !reflect.DeepEqual(d.Budget, budgets[name]) {
					t.Errorf("%s: Build's budget %+v, Budgets' %+v", name, d.Budget, budgets[name])
				}
			}
		})
	}
}

func TestBudgetsNameKeysByHashAndReadOnlyKeys(t *testing.T) {
	if h := keyHash("super-secret-key"); !regexp.MustCompile(`^k[0-9a-f]{16}$`).MatchString(h) || h != keyHash("super-secret-key") || h == keyHash("super-secret-kez") {
		t.Errorf("keyHash = %q, want k and 16 hex digits, stable, distinct per key", h)
	}
	f, err := activation.Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	// Only the API keys are read: the other secrets may be absent.
	_, groups, err := Budgets(f, env(map[string]string{"EU_KEY": "super-secret-key", "US_KEY": "k2"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 || groups[0].Key != keyHash("super-secret-key") || strings.Contains(groups[0].Key, "super-secret-key") {
		t.Errorf("key budgets = %+v", groups)
	}
	_, _, err = Budgets(f, env(map[string]string{"US_KEY": " "}))
	want := "destination shop-eu: environment variable EU_KEY is not set; set it to the destination's API key (the activation file names it)\n" +
		"destination shop-us: environment variable US_KEY is not set; set it to the destination's API key (the activation file names it)"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}
