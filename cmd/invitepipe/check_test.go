package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/invitepipe/invitepipe/internal/sandbox"
)

const checkFile = `
destinations:
  - name: shop
    business_unit_id: ` + sandbox.DefaultBusinessUnitID + `
    credentials: { api_key_env: CHECK_KEY, api_secret_env: CHECK_SECRET, business_user_id_env: CHECK_USER }
activations:
  - id: orders
    destination: shop
    invitation_type: service
    mapping: { consumer_name: name, consumer_email: email, reference_number: order_id }
`

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheck(t *testing.T) {
	sb, err := sandbox.New(sandbox.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(func() { sb.Close(); srv.Close() })
	t.Setenv("INVITEPIPE_TRUSTPILOT_API_URL", srv.URL)
	t.Setenv("INVITEPIPE_TRUSTPILOT_INVITATIONS_URL", srv.URL)
	t.Setenv("CHECK_KEY", sandbox.DefaultAPIKey)
	t.Setenv("CHECK_USER", sandbox.DefaultBusinessUserID)

	activations := writeTemp(t, "activations.yaml", checkFile)
	// templates: the destination's default service template (orders, orders-both) and
	// orders-eu's own are the business unit's; orders-both's product template is not.
	service, product := sandbox.TemplateIDs(sandbox.DefaultBusinessUnitID)
	templates := writeTemp(t, "templates.yaml", strings.Replace(checkFile, "    credentials:", "    defaults: { service_template_id: "+service+" }\n    credentials:", 1)+`
  - id: orders-both
    destination: shop
    invitation_type: both
    product: { template_id: 5f2b0c7e1a2b3c4d5e6f7a8c, skus: [SKU-1] }
    mapping: { consumer_name: name, consumer_email: email, reference_number: order_id }
  - id: orders-eu
    destination: shop
    invitation_type: service
    service: { template_id: `+service+`, tags: [eu] }
    mapping: { consumer_name: name, consumer_email: email, reference_number: order_id }
`)
	wrongDefault := writeTemp(t, "wrong-default.yaml", strings.Replace(checkFile, "    credentials:", "    defaults: { service_template_id: 5f2b0c7e1a2b3c4d5e6f7a8b }\n    credentials:", 1))
	rows := writeTemp(t, "rows.ndjson", `{"activation":"orders","row_id":"1","row":{"order_id":"A-1","name":"Ann","email":"ann@example.com"}}

{"activation":"orders","row_id":"2","row":{"order_id":"A#2","name":"Bo","email":"bo@example.com"}}
{"activation":"returns","row_id":"3","row":{}}
not json
`)
	tests := []struct {
		name    string
		args    []string
		secret  string
		wantOut []string
		// wantSettings are lines of the resolved settings, runs of spaces as one.
		wantSettings []string
		wantErr      string
		// notInErr must not be in the error: a setting wrongly reported.
		notInErr []string
	}{
		{
			name:    "valid file",
			args:    []string{"--activations", activations},
			wantOut: []string{"is valid: 1 destination(s), 1 activation(s)", "activation orders -> shop: service invitations"},
			wantSettings: []string{
				"\n invitation_type service activation\n",
				"\n consumer_email - mapped column email\n",
				"\n locale - omitted\n",
				"\n service.template_id - omitted\n",
			},
		},
		{
			name: "settings from the destination's defaults and the activation",
			args: []string{"--activations", templates},
			wantSettings: []string{
				"\n service.template_id " + service + " destination default\n",
				"\n product.template_id 5f2b0c7e1a2b3c4d5e6f7a8c activation\n",
				"\n product.skus SKU-1 activation\n",
				"\n service.template_id " + service + " activation\n",
				"\n service.tags eu activation\n",
			},
		},
		{
			name:    "online: template ids the business unit lacks",
			args:    []string{"--activations", templates, "--online"},
			secret:  sandbox.DefaultAPISecret,
			wantOut: []string{"destination shop: credentials accepted; 2 template(s): " + service},
			wantErr: "activation orders-both: product.template_id 5f2b0c7e1a2b3c4d5e6f7a8c is not a template of business unit " + sandbox.DefaultBusinessUnitID +
				": use one of " + service + ", " + product + " (or remove it to use Trustpilot's default)",
			notInErr: []string{"activation orders:", "activation orders-eu:", "orders-both: service.template_id"},
		},
		{
			name:    "online: a destination default the business unit lacks names the destination's setting",
			args:    []string{"--activations", wrongDefault, "--online"},
			secret:  sandbox.DefaultAPISecret,
			wantErr: "activation orders: service.template_id 5f2b0c7e1a2b3c4d5e6f7a8b (set by destination shop defaults.service_template_id) is not a template of business unit",
		},
		{
			name: "rows preview, good and bad",
			args: []string{"--activations", activations, "--rows", rows},
			wantOut: []string{
				`line 1: orders/1 -> {"consumerEmail":"ann@example.com","consumerName":"Ann","referenceNumber":"A-1","type":"email","serviceReviewInvitation":{}}`,
				"line 3: invalid_row: mapping.reference_number:",
				`line 4: unknown_activation: activation "returns" is not in the activation file; add it, then redrive`,
				"line 5: malformed:",
			},
			wantErr: "3 row(s) would be dead-lettered",
		},
		{
			name:    "online with valid secrets",
			args:    []string{"--activations", activations, "--online"},
			secret:  sandbox.DefaultAPISecret,
			wantOut: []string{"destination shop: credentials accepted;"},
		},
		{
			name:    "online with a wrong secret",
			args:    []string{"--activations", activations, "--online"},
			secret:  "wrong",
			wantOut: []string{"destination shop: FAILED:"},
			wantErr: "destination shop:",
		},
		{
			name:    "online without the secret variable",
			args:    []string{"--activations", activations, "--online"},
			wantErr: "environment variable CHECK_SECRET is not set",
		},
		{
			name: "sources",
			args: []string{"--activations", writeTemp(t, "sources.yaml", strings.Replace(checkFile, "    mapping:",
				"    source: { type: postgresql, query: \"SELECT * FROM orders\", dsn_env: SHOP_DSN, mode: cursor, cursor_column: created_at, cursor_lookback: 10m }\n    mapping:", 1))},
			wantOut: []string{"activation orders source: postgresql (connection string in $SHOP_DSN), cursor on created_at with look-back 10m0s, keys order_id"},
		},
		{
			name: "a source that cannot be read",
			args: []string{"--activations", writeTemp(t, "bad-source.yaml", strings.Replace(checkFile, "    mapping:",
				"    source: { type: csv, mode: cursor }\n    mapping:", 1))},
			wantErr: "activations.orders.source.path: required for a csv source",
		},
		{
			name:    "missing file",
			args:    []string{"--activations", filepath.Join(t.TempDir(), "none.yaml")},
			wantErr: "set INVITEPIPE_ACTIVATIONS to its path",
		},
		{
			name:    "invalid file",
			args:    []string{"--activations", writeTemp(t, "bad.yaml", strings.Replace(checkFile, "consumer_email: email, ", "", 1))},
			wantErr: "activations[0].mapping.consumer_email: required",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.secret != "" {
				t.Setenv("CHECK_SECRET", tt.secret)
			} else {
				os.Unsetenv("CHECK_SECRET")
			}
			var out bytes.Buffer
			err := runCheck(context.Background(), tt.args, &out)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("runCheck: %v\n%s", err, out.String())
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("runCheck error = %v, want it to contain %q", err, tt.wantErr)
			}
			for _, wrong := range tt.notInErr {
				if err != nil && strings.Contains(err.Error(), wrong) {
					t.Errorf("error reports %q:\n%v", wrong, err)
				}
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			squashed := regexp.MustCompile(` +`).ReplaceAllString(out.String(), " ")
			for _, want := range tt.wantSettings {
				if !strings.Contains(squashed, want) {
					t.Errorf("settings lack %q:\n%s", want, out.String())
				}
			}
			if strings.Contains(out.String(), sandbox.DefaultAPISecret) {
				t.Error("output reveals the API secret")
			}
		})
	}
}

func TestCheckKeyBudgets(t *testing.T) {
	const file = `
destinations:
  - name: shop-eu
    business_unit_id: bu-eu
    credentials: { api_key_env: BUDGET_KEY_EU, api_secret_env: BUDGET_SECRET, rate_limit: { per_5min: 100, per_hour: 1000000000 } }
    rate_limit: { per_5min: 60, per_hour: 1000000 }
  - name: shop-us
    business_unit_id: bu-us
    credentials: { api_key_env: BUDGET_KEY_US, api_secret_env: BUDGET_SECRET, rate_limit: { per_5min: 833, per_hour: 12000000000 } }
  - name: shop-uk
    business_unit_id: bu-uk
    credentials: { api_key_env: BUDGET_KEY_UK, api_secret_env: BUDGET_SECRET }
    rate_limit: { windows: [{ calls: 100, per: 1m }] }
activations:
  - id: orders
    destination: shop-eu
    invitation_type: service
    max_age: 30d
    mapping: { consumer_name: name, consumer_email: email, reference_number: order_id }
`
	hash := func(key string) string {
		sum := sha256.Sum256([]byte(key))
		return "k" + hex.EncodeToString(sum[:])[:16]
	}
	activations := writeTemp(t, "activations.yaml", file)
	tests := []struct {
		name    string
		env     map[string]string // API key variables; unset when absent
		wantOut []string
	}{
		{
			name: "one key value under two variables: one budget, own caps listed, unlimited windows marked",
			env:  map[string]string{"BUDGET_KEY_EU": "shared-key", "BUDGET_KEY_US": " shared-key\n", "BUDGET_KEY_UK": "uk-key"},
			wantOut: []string{
				"  destination shop-eu: business unit bu-eu, rate_limit 60 per 5m, unlimited per 1h\n",
				"  destination shop-uk: business unit bu-uk, rate_limit 833 per 5m, 10000 per 1h, 100 per 1m\n",
				"  activation orders -> shop-eu: service invitations, stale after 30d\n",
				"  key budgets (destinations whose API keys have the same value share one; per window, the smallest count applies):\n" +
					"    key " + hash("shared-key") + ": shop-eu, shop-us: 100 per 5m, unlimited per 1h\n" +
					"      shop-eu also at most 60 per 5m (its own rate_limit)\n" +
					"      shop-us also at most 10000 per 1h (its own rate_limit)\n" +
					"    key " + hash("uk-key") + ": shop-uk: 100 per 1m, 833 per 5m, 10000 per 1h\n",
			},
		},
		{
			name: "key variables unset: no budgets, no failure",
			env:  map[string]string{"BUDGET_KEY_EU": "shared-key"},
			wantOut: []string{"  key budgets: unknown until every API key variable is set (" +
				"destination shop-us: environment variable BUDGET_KEY_US is not set; set it to the destination's API key (the activation file names it); " +
				"destination shop-uk: environment variable BUDGET_KEY_UK is not set; set it to the destination's API key (the activation file names it))\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{"BUDGET_KEY_EU", "BUDGET_KEY_US", "BUDGET_KEY_UK"} {
				t.Setenv(name, "") // restored after the test
				if v, ok := tt.env[name]; ok {
					os.Setenv(name, v)
				} else {
					os.Unsetenv(name)
				}
			}
			var out bytes.Buffer
			if err := runCheck(context.Background(), []string{"--activations", activations}, &out); err != nil {
				t.Fatalf("runCheck: %v\n%s", err, out.String())
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			for _, key := range []string{"shared-key", "uk-key"} {
				if strings.Contains(out.String(), key) {
					t.Errorf("output reveals the API key %q", key)
				}
			}
		})
	}
}
