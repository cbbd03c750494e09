package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
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
		wantErr string
	}{
		{
			name:    "valid file",
			args:    []string{"--activations", activations},
			wantOut: []string{"is valid: 1 destination(s), 1 activation(s)", "activation orders -> shop: service invitations"},
		},
		{
			name: "rows preview, good and bad",
			args: []string{"--activations", activations, "--rows", rows},
			wantOut: []string{
				`line 1: orders/1 -> {"consumerEmail":"ann@example.com","consumerName":"Ann","referenceNumber":"A-1","type":"email","serviceReviewInvitation":{}}`,
				"line 3: invalid_row: mapping.reference_number:",
				`line 4: unknown_activation: "returns" is not an activation of the file`,
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
			for _, want := range tt.wantOut {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			if strings.Contains(out.String(), sandbox.DefaultAPISecret) {
				t.Error("output reveals the API secret")
			}
		})
	}
}
