package destination

import (
	"slices"
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
	want := []ratelimit.Limit{{Count: 50, Window: 5 * time.Minute}, {Count: 10000, Window: time.Hour}, {Count: 5, Window: 2 * time.Second}}
	if !slices.Equal(eu.Limits, want) {
		t.Errorf("shop-eu limits = %v, want %v", eu.Limits, want)
	}
	wantUS := []ratelimit.Limit{{Count: 833, Window: 5 * time.Minute}, {Count: 10000, Window: time.Hour}}
	if us := got["shop-us"]; us == nil || !slices.Equal(us.Limits, wantUS) {
		t.Errorf("shop-us = %+v, want limits %v", us, wantUS)
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
