package mapping

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/invitepipe/invitepipe/internal/activation"
)

func TestSettings(t *testing.T) {
	tests := []struct {
		name  string
		setup func(a *activation.Activation, d *activation.Destination) // nil: base as is
		// want maps a setting to "value | from | path"; every listed setting must be there.
		want map[string]string
		// absent are settings the invitation type does not build.
		absent []string
	}{
		{
			name: "every field mapped, no fixed value: columns, templates omitted",
			want: map[string]string{
				"invitation_type":      "service | activation | invitation_type",
				"consumer_name":        " | mapped column name | mapping.consumer_name",
				"reply_to":             " | mapped column reply | mapping.reply_to",
				"locale":               " | mapped column lang | mapping.locale",
				"location_id":          " | mapped column store | mapping.location_id",
				"sender_name":          " | mapped column sender | mapping.sender_name",
				"service.template_id":  " | omitted | ",
				"service.redirect_uri": " | omitted | ",
				"service.tags":         " | mapped column tags | mapping.tags",
			},
			absent: []string{"product.template_id", "product.redirect_uri", "product.skus"},
		},
		{
			name: "destination defaults beat the row's columns",
			setup: func(a *activation.Activation, d *activation.Destination) {
				d.Defaults = activation.Defaults{SenderName: " Shop ", ServiceTemplateID: "tpl-d", ServiceTags: []string{"eu", " "}, ReplyTo: "care@shop.example"}
			},
			want: map[string]string{
				"sender_name":         "Shop | destination default | defaults.sender_name",
				"reply_to":            "care@shop.example | destination default | defaults.reply_to",
				"service.template_id": "tpl-d | destination default | defaults.service_template_id",
				"service.tags":        "eu | destination default | defaults.service_tags",
				"sender_email":        " | mapped column sender_email | mapping.sender_email",
			},
		},
		{
			name: "the activation beats the destination's defaults; blanks and empty lists are not set",
			setup: func(a *activation.Activation, d *activation.Destination) {
				d.Defaults = activation.Defaults{SenderName: "Shop", SenderEmail: "d@shop.example", ServiceTemplateID: "tpl-d", ServiceRedirectURI: "https://d.example", ServiceTags: []string{"eu"}}
				a.SenderName, a.SenderEmail = "Shop EU", "  "
				a.Service = &activation.ServiceSettings{TemplateID: "tpl-a", Tags: []string{}}
			},
			want: map[string]string{
				"sender_name":          "Shop EU | activation | sender_name",
				"sender_email":         "d@shop.example | destination default | defaults.sender_email",
				"service.template_id":  "tpl-a | activation | service.template_id",
				"service.redirect_uri": "https://d.example | destination default | defaults.service_redirect_uri",
				"service.tags":         "eu | destination default | defaults.service_tags",
			},
		},
		{
			name: "invitation type from the destination's defaults",
			setup: func(a *activation.Activation, d *activation.Destination) {
				d.Defaults.InvitationType, a.InvitationTypeDefaulted = activation.Service, true
			},
			want: map[string]string{"invitation_type": "service | destination default | defaults.invitation_type"},
		},
		{
			name: "unmapped optional fields are omitted",
			setup: func(a *activation.Activation, d *activation.Destination) {
				a.Mapping = activation.Mapping{ConsumerName: "n", ConsumerEmail: "e", ReferenceNumber: "r"}
			},
			want: map[string]string{
				"consumer_email":   " | mapped column e | mapping.consumer_email",
				"reference_number": " | mapped column r | mapping.reference_number",
				"reply_to":         " | omitted | ",
				"locale":           " | omitted | ",
				"sender_name":      " | omitted | ",
				"service.tags":     " | omitted | ",
			},
		},
		{
			name: "product with fixed SKUs: the sku column is not read",
			setup: func(a *activation.Activation, d *activation.Destination) {
				a.InvitationType = activation.Product
				d.Defaults.ProductTemplateID = "tpl-p"
				a.Product = &activation.ProductSettings{RedirectURI: "https://p.example", SKUs: []string{" A ", "B"}}
			},
			want: map[string]string{
				"product.template_id":  "tpl-p | destination default | defaults.product_template_id",
				"product.redirect_uri": "https://p.example | activation | product.redirect_uri",
				"product.skus":         "A, B | activation | product.skus",
			},
			absent: []string{"service.template_id", "service.redirect_uri", "service.tags"},
		},
		{
			name: "both with a SKU per row",
			setup: func(a *activation.Activation, d *activation.Destination) {
				a.InvitationType = activation.Both
				a.Product = &activation.ProductSettings{SKUPerRow: true}
			},
			want: map[string]string{
				"service.tags":        " | mapped column tags | mapping.tags",
				"product.template_id": " | omitted | ",
				"product.skus":        " | mapped column sku | mapping.product_sku",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, d := base()
			if tt.setup != nil {
				tt.setup(a, d)
			}
			got := map[string]string{}
			for _, s := range Settings(a, d) {
				if _, dup := got[s.Name]; dup {
					t.Fatalf("setting %s listed twice", s.Name)
				}
				got[s.Name] = fmt.Sprintf("%s | %s | %s", s.Value, s.From(), s.Path)
			}
			for name, want := range tt.want {
				if got[name] != want {
					t.Errorf("%s = %q, want %q", name, got[name], want)
				}
			}
			for _, name := range tt.absent {
				if v, ok := got[name]; ok {
					t.Errorf("%s = %q listed, but the invitation type does not build it", name, v)
				}
			}
		})
	}
}

// TestSettingsOrder pins the order check prints: the invitation type, the invitation's
// common fields in the mapping's order, then the service and product parts.
func TestSettingsOrder(t *testing.T) {
	a, d := base()
	a.InvitationType = activation.Both
	a.Product = &activation.ProductSettings{SKUs: []string{"A"}}
	var names []string
	for _, s := range Settings(a, d) {
		names = append(names, s.Name)
	}
	want := []string{
		"invitation_type", "consumer_name", "consumer_email", "reference_number", "reply_to", "locale", "sender_name", "sender_email", "location_id",
		"service.template_id", "service.redirect_uri", "service.tags", "product.template_id", "product.redirect_uri", "product.skus",
	}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("settings %v, want %v", names, want)
	}
}

// TestSettingsAgreeWithMap checks that the fixed values Settings shows are the ones Map
// sends.
func TestSettingsAgreeWithMap(t *testing.T) {
	a, d := base()
	a.InvitationType = activation.Both
	a.SenderName = "Shop EU"
	a.Product = &activation.ProductSettings{TemplateID: "tpl-p", SKUs: []string{"A", "B"}}
	d.Defaults = activation.Defaults{ServiceTemplateID: "tpl-s", ServiceTags: []string{"eu"}, ReplyTo: "care@shop.example"}
	inv, err := New(a, d).Map(decodeRow(t, ann("")))
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string]string{
		"sender_name":         inv.SenderName,
		"reply_to":            inv.ReplyTo,
		"service.template_id": inv.ServiceReviewInvitation.TemplateID,
		"service.tags":        strings.Join(inv.ServiceReviewInvitation.Tags, ", "),
		"product.template_id": inv.ProductReviewInvitation.TemplateID,
		"product.skus":        strings.Join(inv.ProductReviewInvitation.ProductSKUs, ", "),
	}
	shown := map[string]string{}
	for _, s := range Settings(a, d) {
		shown[s.Name] = s.Value
	}
	for name, v := range sent {
		if shown[name] != v {
			t.Errorf("%s: Settings shows %q, Map sends %q", name, shown[name], v)
		}
	}
}
