package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/demo"
	"github.com/invitepipe/invitepipe/internal/sandbox"
)

var exampleActivations = filepath.Join("..", "..", "examples", "activations.yaml")

// TestExampleActivationsCheckOnline: the demo's activation file is valid, and its
// template ids are among those the sandbox lists for each business unit, so
// `check --online` passes against a sandbox that knows both destinations.
func TestExampleActivationsCheckOnline(t *testing.T) {
	cfg := sandbox.DefaultConfig()
	cfg.Credentials = []sandbox.Credential{{APIKey: "shop-key", APISecret: "shop-secret"}, {APIKey: "brand-key", APISecret: "brand-secret"}}
	cfg.BusinessUnits = []sandbox.BusinessUnit{{ID: "507f191e810c19729de860ea"}, {ID: "62a1f0c3b4d5e6f708192a3b"}}
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(func() { sb.Close(); srv.Close() })
	for name, value := range map[string]string{
		"INVITEPIPE_TRUSTPILOT_API_URL": srv.URL, "INVITEPIPE_TRUSTPILOT_INVITATIONS_URL": srv.URL,
		"TP_SHOP_API_KEY": "shop-key", "TP_SHOP_API_SECRET": "shop-secret", "TP_SHOP_BUSINESS_USER_ID": sandbox.DefaultBusinessUserID,
		"TP_BRAND_API_KEY": "brand-key", "TP_BRAND_API_SECRET": "brand-secret", "TP_BRAND_BUSINESS_USER_ID": sandbox.DefaultBusinessUserID,
	} {
		t.Setenv(name, value)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"check", "--online", "--activations", exampleActivations}, &out, &errOut); code != 0 {
		t.Fatalf("check --online exited %d:\n%s%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"is valid: 2 destination(s), 3 activation(s)", "destination shop: credentials accepted", "destination brand: credentials accepted"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParseThrottle(t *testing.T) {
	tests := []struct {
		name, in string
		want     demo.Throttle
		wantErr  bool
	}{
		{name: "destination and duration", in: "brand=4s", want: demo.Throttle{Destination: "brand", For: 4 * time.Second}},
		{name: "off", in: "off"},
		{name: "empty", in: ""},
		{name: "no duration", in: "brand", wantErr: true},
		{name: "bad duration", in: "brand=soon", wantErr: true},
		{name: "negative", in: "brand=-1s", wantErr: true},
		{name: "no destination", in: "=4s", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseThrottle(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("parseThrottle(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "--throttle") {
				t.Errorf("error %q does not name the flag", err)
			}
		})
	}
}

func TestDemoHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"demo", "--help"}, &out, &errOut); code != 0 {
		t.Fatalf("demo --help exited %d: %s", code, errOut.String())
	}
	for _, want := range []string{"-kafka", "-redis", "-trustpilot", "-exit", "-throttle", "INVITEPIPE_CONCURRENCY", "INVITEPIPE_PRODUCER_BATCH_SIZE"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo --help lacks %q:\n%s", want, out.String())
		}
	}
}
