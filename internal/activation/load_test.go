package activation

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// valid is a minimal valid file the bad cases start from.
const valid = `
destinations:
  - name: shop-eu
    business_unit_id: 507f191e810c19729de860ea
    credentials: { api_key_env: TP_KEY, api_secret_env: TP_SECRET }
activations:
  - id: orders-service
    destination: shop-eu
    invitation_type: service
    mapping: { consumer_name: name, consumer_email: email, reference_number: order_id }
`

func TestParseReportsEveryProblemWithItsPath(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "missing required mapping",
			yaml: strings.Replace(valid, "consumer_email: email, ", "", 1),
			want: []string{"activations[0].mapping.consumer_email: required"},
		},
		{
			name: "second activation misses its mappings",
			yaml: valid + `
  - id: orders-2
    destination: shop-eu
    invitation_type: service
    mapping: { reference_number: order_id }
`,
			want: []string{
				"activations[1].mapping.consumer_email: required",
				"activations[1].mapping.consumer_name: required",
			},
		},
		{
			name: "unknown field is a typo, not ignored",
			yaml: strings.Replace(valid, "invitation_type: service", "invitation_typ: service", 1),
			want: []string{
				"activations[0].invitation_typ: unknown field (check its spelling and level)",
				"activations[0].invitation_type: required: set service, product or both here or in the destination's defaults",
			},
		},
		{
			name: "bad id and unknown invitation type",
			yaml: strings.Replace(strings.Replace(valid, "id: orders-service", "id: Orders_Service", 1), "invitation_type: service", "invitation_type: email", 1),
			want: []string{
				`activations[0].id: "Orders_Service" does not match lowercase letters, digits and '-' (e.g. orders-service)`,
				"activations[0].invitation_type: value must be one of 'service', 'product', 'both'",
			},
		},
		{
			name: "unknown destination",
			yaml: strings.Replace(valid, "destination: shop-eu", "destination: shop-us", 1),
			want: []string{`activations[0].destination: "shop-us" is not a destination of this file (add it under destinations or fix the name)`},
		},
		{
			name: "duplicate ids and destination names",
			yaml: strings.Replace(valid, "activations:", `  - name: shop-eu
    business_unit_id: 507f191e810c19729de860eb
    credentials: { api_key_env: TP_KEY, api_secret_env: TP_SECRET }
activations:`, 1) + `
  - id: orders-service
    destination: shop-eu
    invitation_type: service
    mapping: { consumer_name: name, consumer_email: email, reference_number: order_id }
`,
			want: []string{
				`destinations[1].name: "shop-eu" is already the name of destinations[0]`,
				`activations[1].id: "orders-service" is already the id of activations[0]`,
			},
		},
		{
			name: "no invitation type here nor in the destination's defaults",
			yaml: strings.Replace(valid, "    invitation_type: service\n", "", 1),
			want: []string{"activations[0].invitation_type: required: set service, product or both here or in the destination's defaults"},
		},
		{
			name: "sku per row without product_sku mapping",
			yaml: strings.Replace(valid, "invitation_type: service", "invitation_type: product\n    product: { sku_per_row: true }", 1),
			want: []string{"activations[0].mapping.product_sku: required when product.sku_per_row is true: name the column that holds the SKU"},
		},
		{
			name: "fixed skus missing",
			yaml: strings.Replace(valid, "invitation_type: service", "invitation_type: both", 1),
			want: []string{"activations[0].product.skus: required for both invitations: list the SKUs, or set sku_per_row: true and map product_sku"},
		},
		{
			name: "sku per row and fixed skus together",
			yaml: strings.Replace(strings.Replace(valid, "invitation_type: service", "invitation_type: product\n    product: { sku_per_row: true, skus: [A] }", 1), "order_id }", "order_id, product_sku: sku }", 1),
			want: []string{"activations[0].product.skus: set either sku_per_row or skus, not both"},
		},
		{
			name: "http redirect, relative redirect and bad emails",
			yaml: strings.Replace(valid, "invitation_type: service", `invitation_type: service
    service: { redirect_uri: "http://shop.example/thanks" }
    sender_email: "Shop <shop@example.com>"
    reply_to: care@localhost`, 1),
			want: []string{
				`activations[0].service.redirect_uri: "http://shop.example/thanks" is not an absolute https URL (e.g. https://shop.example/thanks)`,
				`activations[0].sender_email: "Shop <shop@example.com>" is not an email address (write it bare, e.g. reviews@shop.example)`,
				`activations[0].reply_to: "care@localhost" is not an email address (write it bare, e.g. reviews@shop.example)`,
			},
		},
		{
			name: "relative redirect in destination defaults",
			yaml: strings.Replace(valid, "    credentials:", "    defaults: { product_redirect_uri: /thanks }\n    credentials:", 1),
			want: []string{`destinations[0].defaults.product_redirect_uri: "/thanks" is not an absolute https URL (e.g. https://shop.example/thanks)`},
		},
		{
			name: "secret in place of a variable name, half a password grant",
			yaml: strings.Replace(valid, "api_secret_env: TP_SECRET", "api_secret_env: s3cr3t-v@lue, username_env: TP_USER", 1),
			want: []string{
				`destinations[0].credentials.api_secret_env: "s3cr3t-v@lue" does not match an environment variable name (e.g. TP_SHOP_EU_API_KEY)`,
				"destinations[0].credentials: username_env and password_env go together (password grant); set both or neither",
			},
		},
		{
			name: "password grant needs both variables",
			yaml: strings.Replace(valid, "api_secret_env: TP_SECRET", "api_secret_env: TP_SECRET, username_env: TP_USER", 1),
			want: []string{"destinations[0].credentials: username_env and password_env go together (password grant); set both or neither"},
		},
		{
			name: "rate limit of the wrong type and zero",
			yaml: strings.Replace(valid, "    credentials:", "    rate_limit: { per_5min: lots, per_hour: 0 }\n    credentials:", 1),
			want: []string{
				"destinations[0].rate_limit.per_5min: got string, want integer",
				"destinations[0].rate_limit.per_hour: minimum: got 0, want 1",
			},
		},
		{
			name: "further rate windows: missing field, wrong types, out of range",
			yaml: strings.Replace(valid, "    credentials:", `    rate_limit:
      windows:
        - { calls: 0, per: 5 minutes }
        - { calls: 10 }
        - { calls: 10, per: 500ms }
        - { calls: 10, per: 25h }
        - { calls: 10, per: 1m, burst: 5 }
    credentials:`, 1),
			want: []string{
				"destinations[0].rate_limit.windows[0].calls: minimum: got 0, want 1",
				`destinations[0].rate_limit.windows[0].per: "5 minutes" does not match a duration such as 15m or 1h30m`,
				"destinations[0].rate_limit.windows[1].per: required",
				`destinations[0].rate_limit.windows[2].per: "500ms" does not match a duration such as 15m or 1h30m`,
				"destinations[0].rate_limit.windows[4].burst: unknown field (check its spelling and level)",
				"destinations[0].rate_limit.windows[3].per: 25h is longer than a day: use at most 24h",
			},
		},
		{
			name: "further rate window shorter than a second",
			yaml: strings.Replace(valid, "    credentials:", "    rate_limit: { windows: [{ calls: 10, per: 0.5s }] }\n    credentials:", 1),
			want: []string{"destinations[0].rate_limit.windows[0].per: 0.5s is shorter than a second: Trustpilot counts calls over minutes; use 1s or more"},
		},
		{
			name: "key budget: zero, wrong type, unknown field",
			yaml: strings.Replace(valid, "api_secret_env: TP_SECRET }", `api_secret_env: TP_SECRET,
                   rate_limit: { per_5min: 0, per_hour: many, per_day: 5 } }`, 1),
			want: []string{
				"destinations[0].credentials.rate_limit.per_5min: minimum: got 0, want 1",
				"destinations[0].credentials.rate_limit.per_day: unknown field (check its spelling and level)",
				"destinations[0].credentials.rate_limit.per_hour: got string, want integer",
			},
		},
		{
			name: "key budget: further windows checked like the destination's",
			yaml: strings.Replace(valid, "api_secret_env: TP_SECRET }", `api_secret_env: TP_SECRET,
                   rate_limit: { windows: [{ calls: 10, per: 25h }, { calls: 10, per: 0.5s }] } }`, 1),
			want: []string{
				"destinations[0].credentials.rate_limit.windows[0].per: 25h is longer than a day: use at most 24h",
				"destinations[0].credentials.rate_limit.windows[1].per: 0.5s is shorter than a second: Trustpilot counts calls over minutes; use 1s or more",
			},
		},
		{
			name: "counts above 10^15",
			yaml: strings.Replace(valid, "    credentials:", "    rate_limit: { per_hour: 2000000000000000, windows: [{ calls: 1000000000000001, per: 1m }] }\n    credentials:", 1),
			want: []string{
				"destinations[0].rate_limit.per_hour: 2000000000000000 is more than 1000000000000000; any count of 1000000 or more already means no limit",
				"destinations[0].rate_limit.windows[0].calls: 1000000000000001 is more than 1000000000000000; any count of 1000000 or more already means no limit",
			},
		},
		{
			name: "max_age not a duration",
			yaml: valid + "    max_age: a month\n",
			want: []string{`activations[0].max_age: "a month" does not match a duration such as 30d, 12h or 90m`},
		},
		{
			name: "max_age in milliseconds",
			yaml: valid + "    max_age: 500ms\n",
			want: []string{`activations[0].max_age: "500ms" does not match a duration such as 30d, 12h or 90m`},
		},
		{
			name: "max_age shorter than a minute",
			yaml: valid + "    max_age: 30s\n",
			want: []string{"activations[0].max_age: 30s is shorter than a minute: a row may wait minutes for its budget; use 1m or more (e.g. 30d)"},
		},
		{
			name: "max_age zero",
			yaml: valid + "    max_age: 0d\n",
			want: []string{"activations[0].max_age: 0d is shorter than a minute: a row may wait minutes for its budget; use 1m or more (e.g. 30d)"},
		},
		{
			name: "max_age beyond what a duration holds",
			yaml: valid + "    max_age: 200000d\n",
			want: []string{`activations[0].max_age: "200000d" is too long: use at most 106751d (about 292 years)`},
		},
		{
			name: "bad schedule",
			yaml: valid + "    schedule: every day\n",
			want: []string{`activations[0].schedule: "every day" does not match a duration such as 15m or 1h30m`},
		},
		{
			name: "source without type",
			yaml: valid + "    source: { path: /data/orders.csv }\n",
			want: []string{"activations[0].source.type: required"},
		},
		{
			name: "empty file",
			yaml: "",
			want: []string{"the file is empty: it needs destinations and activations"},
		},
		{
			name: "not YAML",
			yaml: "destinations: [\n",
			want: []string{"not valid YAML: line 1: did not find expected node content"},
		},
		{
			name: "no activations",
			yaml: strings.Split(valid, "activations:")[0],
			want: []string{"activations: required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse([]byte(tt.yaml))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse = %v, %v; want a *ValidationError", f, err)
			}
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestLoadExampleAppliesDefaults(t *testing.T) {
	f, err := Load(filepath.Join("..", "..", "schemas", "examples", "activations.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d, ok := f.Destination("shop-eu")
	guidance := RateLimit{Per5Min: 833, PerHour: 10000}
	if !ok || !reflect.DeepEqual(d.RateLimit, guidance) || d.Credentials.RateLimit == nil || !reflect.DeepEqual(*d.Credentials.RateLimit, guidance) {
		t.Fatalf("destination shop-eu = %+v, %v", d, ok)
	}
	tests := []struct {
		id        string
		typ       InvitationType
		defaulted bool // the type comes from the destination's defaults
		schedule  time.Duration
		maxAge    time.Duration
	}{
		{"orders-service", Service, true, 0, 30 * 24 * time.Hour},
		{"orders-product", Product, false, 0, 0},
		{"orders-both", Both, false, 15 * time.Minute, 0},
	}
	for _, tt := range tests {
		a, ok := f.Activation(tt.id)
		if !ok {
			t.Fatalf("activation %s missing", tt.id)
		}
		if a.InvitationType != tt.typ || a.InvitationTypeDefaulted != tt.defaulted || a.Schedule != tt.schedule || a.MaxAge != tt.maxAge {
			t.Errorf("%s: type %q (defaulted %t) schedule %s max_age %s, want %q (%t) %s %s",
				tt.id, a.InvitationType, a.InvitationTypeDefaulted, a.Schedule, a.MaxAge, tt.typ, tt.defaulted, tt.schedule, tt.maxAge)
		}
	}
	if _, ok := f.Activation("nope"); ok {
		t.Error("Activation(nope) found something")
	}
}

func TestParseRateLimits(t *testing.T) {
	tests := []struct {
		name      string
		rateLimit string
		want      RateLimit
	}{
		{
			name: "absent: Trustpilot's guidance",
			want: RateLimit{Per5Min: DefaultPer5Min, PerHour: DefaultPerHour},
		},
		{
			name:      "one window set, the other defaulted",
			rateLimit: "{ per_5min: 50 }",
			want:      RateLimit{Per5Min: 50, PerHour: DefaultPerHour},
		},
		{
			name:      "further windows keep both defaults",
			rateLimit: "{ windows: [{ calls: 100, per: 1m }, { calls: 5, per: 1s }, { calls: 20000, per: 24h }] }",
			want: RateLimit{Per5Min: DefaultPer5Min, PerHour: DefaultPerHour, Windows: []RateWindow{
				{Calls: 100, Per: time.Minute, RawPer: "1m"},
				{Calls: 5, Per: time.Second, RawPer: "1s"},
				{Calls: 20000, Per: 24 * time.Hour, RawPer: "24h"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := valid
			if tt.rateLimit != "" {
				yaml = strings.Replace(valid, "    credentials:", "    rate_limit: "+tt.rateLimit+"\n    credentials:", 1)
			}
			f, err := Parse([]byte(yaml))
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Destinations[0].RateLimit; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("rate limit = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseKeyRateLimits(t *testing.T) {
	tests := []struct {
		name      string
		rateLimit string // the destination's own, "" for absent
		keyLimit  string // credentials.rate_limit, "" for absent
		wantOwn   RateLimit
		wantKey   RateLimit
	}{
		{
			name:    "both absent: Trustpilot's guidance for both",
			wantOwn: RateLimit{Per5Min: DefaultPer5Min, PerHour: DefaultPerHour},
			wantKey: RateLimit{Per5Min: DefaultPer5Min, PerHour: DefaultPerHour},
		},
		{
			name:      "key budget absent: the destination's, further windows included",
			rateLimit: "{ per_5min: 60, windows: [{ calls: 5, per: 2s }] }",
			wantOwn:   RateLimit{Per5Min: 60, PerHour: DefaultPerHour, Windows: []RateWindow{{Calls: 5, Per: 2 * time.Second, RawPer: "2s"}}},
			wantKey:   RateLimit{Per5Min: 60, PerHour: DefaultPerHour, Windows: []RateWindow{{Calls: 5, Per: 2 * time.Second, RawPer: "2s"}}},
		},
		{
			name:      "key budget declared: its absent windows take the guidance, not the destination's",
			rateLimit: "{ per_5min: 60, per_hour: 600 }",
			keyLimit:  "{ per_hour: 5000, windows: [{ calls: 100, per: 1m }] }",
			wantOwn:   RateLimit{Per5Min: 60, PerHour: 600},
			wantKey:   RateLimit{Per5Min: DefaultPer5Min, PerHour: 5000, Windows: []RateWindow{{Calls: 100, Per: time.Minute, RawPer: "1m"}}},
		},
		{
			name:      "huge counts load as written: no limit",
			rateLimit: "{ per_5min: 1000000000, per_hour: 12000000000 }",
			keyLimit:  "{ per_5min: 1000000, per_hour: 1000000000000, windows: [{ calls: 1000000000000000, per: 24h }] }",
			wantOwn:   RateLimit{Per5Min: 1_000_000_000, PerHour: 12_000_000_000},
			wantKey:   RateLimit{Per5Min: 1_000_000, PerHour: 1_000_000_000_000, Windows: []RateWindow{{Calls: 1_000_000_000_000_000, Per: 24 * time.Hour, RawPer: "24h"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := valid
			if tt.rateLimit != "" {
				yaml = strings.Replace(yaml, "    credentials:", "    rate_limit: "+tt.rateLimit+"\n    credentials:", 1)
			}
			if tt.keyLimit != "" {
				yaml = strings.Replace(yaml, "api_secret_env: TP_SECRET }", "api_secret_env: TP_SECRET, rate_limit: "+tt.keyLimit+" }", 1)
			}
			f, err := Parse([]byte(yaml))
			if err != nil {
				t.Fatal(err)
			}
			d := f.Destinations[0]
			if !reflect.DeepEqual(d.RateLimit, tt.wantOwn) {
				t.Errorf("rate_limit = %+v, want %+v", d.RateLimit, tt.wantOwn)
			}
			if d.Credentials.RateLimit == nil || !reflect.DeepEqual(*d.Credentials.RateLimit, tt.wantKey) {
				t.Errorf("credentials.rate_limit = %+v, want %+v", d.Credentials.RateLimit, tt.wantKey)
			}
		})
	}
}

func TestParseMaxAge(t *testing.T) {
	tests := []struct {
		name   string
		maxAge string // "" for absent
		want   time.Duration
	}{
		{name: "absent: rows never age", want: 0},
		{name: "days", maxAge: "30d", want: 30 * 24 * time.Hour},
		{name: "hours", maxAge: "12h", want: 12 * time.Hour},
		{name: "minutes", maxAge: "90m", want: 90 * time.Minute},
		{name: "the shortest", maxAge: "1m", want: time.Minute},
		{name: "seconds adding to a minute or more", maxAge: "90s", want: 90 * time.Second},
		{name: "days and hours", maxAge: "1d12h", want: 36 * time.Hour},
		{name: "a fraction of a day", maxAge: "1.5d", want: 36 * time.Hour},
		{name: "the longest", maxAge: "106751d", want: 106751 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := valid
			if tt.maxAge != "" {
				yaml += "    max_age: " + tt.maxAge + "\n"
			}
			f, err := Parse([]byte(yaml))
			if err != nil {
				t.Fatal(err)
			}
			if a := f.Activations[0]; a.MaxAge != tt.want || a.RawMaxAge != tt.maxAge {
				t.Errorf("max_age = %s (raw %q), want %s (raw %q)", a.MaxAge, a.RawMaxAge, tt.want, tt.maxAge)
			}
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(valid, "consumer_name: name, ", "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := path + " is invalid (1 problem):\n  activations[0].mapping.consumer_name: required"
	if err == nil || err.Error() != want {
		t.Errorf("Load error = %v\nwant %s", err, want)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want os.ErrNotExist", err)
	}
}

func TestValidEmail(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"ann@example.com", true},
		{"ann.lee+tag@sub.example.co.uk", true},
		{"ann@", false},
		{"@example.com", false},
		{"ann@localhost", false},
		{"Ann <ann@example.com>", false},
		{"ann@example.com ", false},
		{"ann example@example.com", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidEmail(tt.in); got != tt.want {
			t.Errorf("ValidEmail(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
