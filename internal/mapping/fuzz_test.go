package mapping

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/row"
	"github.com/invitepipe/invitepipe/internal/trustpilot"
)

// fuzzMappers are the example activations plus base with every field mapped, as a
// service and as a both invitation with a SKU per row.
func fuzzMappers(tb testing.TB) map[string]*Mapper {
	ms := exampleMappers(tb)
	a, d := base()
	ms["base-service"] = New(a, d)
	a, d = base()
	a.InvitationType = activation.Both
	a.Product = &activation.ProductSettings{SKUPerRow: true}
	ms["base-both"] = New(a, d)
	return ms
}

// FuzzMap feeds arbitrary messages through row.Decode and every fuzz Mapper: Map never
// panics, an invitation has what Trustpilot requires, and an error is an
// *InvalidRowError that does not repeat the consumer's email.
func FuzzMap(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join(examplesDir, "row.*.json"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no example rows: %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, cols := range []string{
		ann(`,"lang":"en_us","tags":"a, b,,","sku":["S1"," "],"store":1e3,"reply":"r@x.example","sender_email":"s@x.example"`),
		ann(`,"lang":"english","sku":true`),
		`{"name":12.50,"email":" a@b.co ","order_id":"1#2","tags":[" "],"sku":"x,y"}`,
		`{"name":null,"email":["a@b.co"],"order_id":1e999}`,
	} {
		f.Add([]byte(`{"activation":"orders","row_id":"1","row":` + cols + `}`))
	}
	mappers := fuzzMappers(f)
	f.Fuzz(func(t *testing.T, value []byte) {
		msg, err := row.Decode(value)
		if err != nil {
			return
		}
		for id, m := range mappers {
			inv, err := m.Map(msg.Row)
			if err != nil {
				var ie *InvalidRowError
				if !errors.As(err, &ie) || ie.Field == "" {
					t.Fatalf("%s: Map error %T %v, want an *InvalidRowError naming a field", id, err, err)
				}
				if e := msg.Row["email"]; e.Kind == row.String && strings.Index(strings.TrimSpace(e.Text), "@") > 0 &&
					strings.Contains(err.Error(), strings.TrimSpace(e.Text)) {
					t.Fatalf("%s: error %q repeats the consumer's email", id, err)
				}
				continue
			}
			checkInvitation(t, id, m, inv)
		}
	})
}

var localeSyntax = regexp.MustCompile(`^[a-z]{2,3}-[A-Z]{2}$`)

// checkInvitation holds an invitation Map produced to what Trustpilot requires.
func checkInvitation(t *testing.T, id string, m *Mapper, inv trustpilot.Invitation) {
	t.Helper()
	fail := func(what string) { t.Fatalf("%s: %s: %+v", id, what, inv) }
	for _, s := range []string{inv.ConsumerName, inv.ConsumerEmail, inv.ReferenceNumber} {
		if s == "" || s != strings.TrimSpace(s) {
			fail("a required field is blank or untrimmed")
		}
	}
	if strings.ContainsAny(inv.ReferenceNumber, `#*+"%&`) {
		fail("reference number with a character that breaks review links")
	}
	for _, e := range []string{inv.ConsumerEmail, inv.SenderEmail, inv.ReplyTo} {
		if e != "" && !activation.ValidEmail(e) {
			fail("invalid email")
		}
	}
	if inv.Locale != "" && !localeSyntax.MatchString(inv.Locale) {
		fail("locale not normalised")
	}
	if inv.Type != trustpilot.InvitationTypeEmail {
		fail("type is not email")
	}
	if (inv.ServiceReviewInvitation != nil) != m.typ.v.WantsService() || (inv.ProductReviewInvitation != nil) != m.typ.v.WantsProduct() {
		fail("parts do not match the invitation type " + string(m.typ.v))
	}
	if s := inv.ServiceReviewInvitation; s != nil && !trimmedItems(s.Tags) {
		fail("blank or untrimmed tag")
	}
	if p := inv.ProductReviewInvitation; p != nil && (len(p.ProductSKUs) == 0 || !trimmedItems(p.ProductSKUs) || p.Products != nil) {
		fail("product part without SKUs, with a blank SKU, or with products")
	}
}

func trimmedItems(items []string) bool {
	for _, it := range items {
		if it == "" || it != strings.TrimSpace(it) {
			return false
		}
	}
	return true
}
