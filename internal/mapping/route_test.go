package mapping

import (
	"errors"
	"testing"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/row"
)

const routeFile = `
destinations:
  - name: shop
    business_unit_id: bu-shop
    credentials: { api_key_env: K, api_secret_env: S, business_user_id_env: U }
    rate_limit: { per_5min: 60, per_hour: 600 }
activations:
  - id: orders
    destination: shop
    invitation_type: service
    mapping: { consumer_name: name, consumer_email: email, reference_number: order_id }
`

func TestRouterRoute(t *testing.T) {
	f, err := activation.Parse([]byte(routeFile))
	if err != nil {
		t.Fatal(err)
	}
	r := NewRouter(f)
	tests := []struct {
		name      string
		value     string
		wantClass string // "" when the message maps
	}{
		{"maps to its destination", `{"activation":"orders","row_id":"1","row":{"order_id":"A-1","name":"Ann","email":"ann@example.com"}}`, ""},
		{"not JSON", `{"activation":`, "malformed"},
		{"unknown activation", `{"activation":"returns","row_id":"1","row":{}}`, "unknown_activation"},
		{"invalid row", `{"activation":"orders","row_id":"1","row":{"order_id":"A-1","name":"Ann","email":"ann@"}}`, "invalid_row"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Route([]byte(tt.value))
			if tt.wantClass == "" {
				if err != nil || got.Destination.BusinessUnitID != "bu-shop" || got.Activation.ID != "orders" ||
					got.Invitation.ReferenceNumber != "A-1" || got.Message.RowID != "1" {
					t.Fatalf("Route = %+v, %v", got, err)
				}
				return
			}
			var classed interface{ Class() string }
			if !errors.As(err, &classed) || classed.Class() != tt.wantClass {
				t.Fatalf("Route error = %v, want class %s", err, tt.wantClass)
			}
			var malformed *row.MalformedError
			if tt.wantClass == "malformed" && !errors.As(err, &malformed) {
				t.Errorf("want a *row.MalformedError, got %T", err)
			}
		})
	}
}
