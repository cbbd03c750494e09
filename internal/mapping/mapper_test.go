package mapping

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/row"
)

// base is the activation every scenario starts from: a service invitation with every
// field mapped, to a destination without defaults.
func base() (*activation.Activation, *activation.Destination) {
	d := &activation.Destination{Name: "shop", BusinessUnitID: "507f191e810c19729de860ea"}
	a := &activation.Activation{
		ID:             "orders",
		Destination:    "shop",
		InvitationType: activation.Service,
		Mapping: activation.Mapping{
			ConsumerName:    "name",
			ConsumerEmail:   "email",
			ReferenceNumber: "order_id",
			ReplyTo:         "reply",
			Locale:          "lang",
			SenderName:      "sender",
			SenderEmail:     "sender_email",
			LocationID:      "store",
			Tags:            "tags",
			ProductSKU:      "sku",
		},
	}
	return a, d
}

// ann is a row with the required columns; extra adds columns (",\"lang\":\"en\"").
func ann(extra string) string {
	return `{"name":"Ann Lee","email":"ann.lee@example.com","order_id":"A-1001"` + extra + `}`
}

// annJSON is the required part of ann's invitation.
const annJSON = `"consumerEmail":"ann.lee@example.com","consumerName":"Ann Lee","referenceNumber":"A-1001"`

// decodeRow decodes a row object through row.Decode, as the consumer does.
func decodeRow(t testing.TB, cols string) row.Row {
	t.Helper()
	m, err := row.Decode([]byte(`{"activation":"orders","row_id":"1","row":` + cols + `}`))
	if err != nil {
		t.Fatalf("row %s: %v", cols, err)
	}
	return m.Row
}

type scenario struct {
	name  string
	setup func(a *activation.Activation, d *activation.Destination) // nil: base as is
	row   string
	want  string // the invitation's exact JSON; "" when err is expected
	err   string // the *InvalidRowError's text
}

func run(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			a, d := base()
			if sc.setup != nil {
				sc.setup(a, d)
			}
			inv, err := New(a, d).Map(decodeRow(t, sc.row))
			if sc.err != "" {
				var ie *InvalidRowError
				if !errors.As(err, &ie) || err.Error() != sc.err {
					t.Fatalf("Map error = %v\nwant            %s", err, sc.err)
				}
				if ie.Class() != "invalid_row" || !strings.HasPrefix(sc.err, "mapping."+ie.Field+": ") {
					t.Errorf("class %q, field %q", ie.Class(), ie.Field)
				}
				if strings.Contains(err.Error(), "ann.lee") {
					t.Errorf("error %q repeats the consumer's email", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			got, err := json.Marshal(inv)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != sc.want {
				t.Errorf("invitation\n%s\nwant\n%s", got, sc.want)
			}
		})
	}
}

func TestMapRowValues(t *testing.T) {
	run(t, []scenario{
		{name: "required fields only", row: ann(""),
			want: `{` + annJSON + `,"type":"email","serviceReviewInvitation":{}}`},
		{name: "strings are trimmed", row: `{"name":"  Ann Lee\t","email":" ann.lee@example.com ","order_id":"\nA-1001 "}`,
			want: `{` + annJSON + `,"type":"email","serviceReviewInvitation":{}}`},
		{name: "numbers become their decimal text", row: `{"name":42,"email":"ann.lee@example.com","order_id":1.234000123e+09,"store":123.0}`,
			want: `{"consumerEmail":"ann.lee@example.com","consumerName":"42","referenceNumber":"1234000123","locationId":"123","type":"email","serviceReviewInvitation":{}}`},
		{name: "fractions keep their exact text", row: ann(`,"store":1.50`),
			want: `{` + annJSON + `,"locationId":"1.5","type":"email","serviceReviewInvitation":{}}`},
		{name: "null, blank and empty optional columns are omitted", row: ann(`,"reply":null,"lang":"  ","sender":"","sender_email":null,"store":" ","tags":null`),
			want: `{` + annJSON + `,"type":"email","serviceReviewInvitation":{}}`},
		{name: "unmapped columns are not read", setup: func(a *activation.Activation, _ *activation.Destination) { a.Mapping.LocationID = "" },
			row:  ann(`,"store":true`),
			want: `{` + annJSON + `,"type":"email","serviceReviewInvitation":{}}`},
		{name: "every optional field from the row", row: ann(`,"reply":"care@shop.example","lang":"da-DK","sender":"Shop","sender_email":"reviews@shop.example","store":"oslo-1","tags":["vip"]`),
			want: `{` + annJSON + `,"locale":"da-DK","senderEmail":"reviews@shop.example","senderName":"Shop","replyTo":"care@shop.example","locationId":"oslo-1","type":"email","serviceReviewInvitation":{"tags":["vip"]}}`},
		{name: "tags array trimmed, blank ones dropped", row: ann(`,"tags":[" vip ","","  ","eu"]`),
			want: `{` + annJSON + `,"type":"email","serviceReviewInvitation":{"tags":["vip","eu"]}}`},
		{name: "tags string split on commas", row: ann(`,"tags":" vip, eu ,,checkout "`),
			want: `{` + annJSON + `,"type":"email","serviceReviewInvitation":{"tags":["vip","eu","checkout"]}}`},
		{name: "tags number is one tag", row: ann(`,"tags":2026`),
			want: `{` + annJSON + `,"type":"email","serviceReviewInvitation":{"tags":["2026"]}}`},
		{name: "tags of only blanks are omitted", row: ann(`,"tags":[" ",""]`),
			want: `{` + annJSON + `,"type":"email","serviceReviewInvitation":{}}`},
		{name: "tags commas only are omitted", row: ann(`,"tags":" , ,"`),
			want: `{` + annJSON + `,"type":"email","serviceReviewInvitation":{}}`},
	})
}

func TestMapLocale(t *testing.T) {
	var scenarios []scenario
	for in, want := range map[string]string{
		"en-US": "en-US", "en_us": "en-US", "EN-us": "en-US", "en_US": "en-US", " da-dk ": "da-DK", "fil-ph": "fil-PH",
	} {
		scenarios = append(scenarios, scenario{name: "normalises " + in, row: ann(`,"lang":"` + in + `"`),
			want: `{` + annJSON + `,"locale":"` + want + `","type":"email","serviceReviewInvitation":{}}`})
	}
	for _, in := range []string{"english", "en", "en-USA", "e-US", "engl-US", "es-419", "en-U1", "zh-Hant-TW", "en--US", "en US", "én-US", "-US"} {
		scenarios = append(scenarios, scenario{name: "refuses " + in, row: ann(`,"lang":"` + in + `"`),
			err: `mapping.locale: column "lang" holds no locale: write language-REGION, e.g. en-US or da-DK`})
	}
	run(t, scenarios)
}

func TestMapInvalidRows(t *testing.T) {
	var scenarios []scenario
	for _, c := range []string{"#", "*", "+", `\"`, "%", "&"} {
		scenarios = append(scenarios, scenario{name: "reference with " + c, row: `{"name":"Ann","email":"ann.lee@example.com","order_id":"A-` + c + `1"}`,
			err: `mapping.reference_number: holds '` + strings.TrimPrefix(c, `\`) + `', which breaks Trustpilot's review links (none of # * + " % & may appear)`})
	}
	const noName = `mapping.consumer_name: required, but column "name" has no value (absent, null or blank)`
	scenarios = append(scenarios, []scenario{
		{name: "consumer_name absent", row: `{"email":"ann.lee@example.com","order_id":"A-1001"}`, err: noName},
		{name: "consumer_name null", row: `{"name":null,"email":"ann.lee@example.com","order_id":"A-1001"}`, err: noName},
		{name: "consumer_name blank", row: `{"name":" \t ","email":"ann.lee@example.com","order_id":"A-1001"}`, err: noName},
		{name: "consumer_email absent", row: `{"name":"Ann","order_id":"A-1001"}`,
			err: `mapping.consumer_email: required, but column "email" has no value (absent, null or blank)`},
		{name: "reference_number empty", row: `{"name":"Ann","email":"ann.lee@example.com","order_id":""}`,
			err: `mapping.reference_number: required, but column "order_id" has no value (absent, null or blank)`},
		{name: "consumer_email invalid is masked", row: `{"name":"Ann","email":"ann.lee@example","order_id":"A-1001"}`,
			err: `mapping.consumer_email: "a***@example" is not an email address`},
		{name: "consumer_email with a display name", row: `{"name":"Ann","email":"Ann <ann.lee@example.com>","order_id":"A-1001"}`,
			err: `mapping.consumer_email: "A***@example.com>" is not an email address`},
		{name: "consumer_email boolean", row: `{"name":"Ann","email":true,"order_id":"A-1001"}`,
			err: `mapping.consumer_email: column "email" holds a boolean, not text`},
		{name: "consumer_name array", row: `{"name":["Ann"],"email":"ann.lee@example.com","order_id":"A-1001"}`,
			err: `mapping.consumer_name: column "name" holds an array, which only tags and product_sku accept`},
		{name: "reference_number number beyond decimal text", row: `{"name":"Ann","email":"ann.lee@example.com","order_id":1e400}`,
			err: `mapping.reference_number: column "order_id" holds a number with an exponent beyond ±100, too long as decimal text (send it as a string)`},
		{name: "first problem in mapping order", row: `{"name":null,"email":"x","order_id":"#"}`, err: noName},
		{name: "sender_email from the row invalid", row: ann(`,"sender_email":"ann.lee@@example.com"`),
			err: `mapping.sender_email: "a***@example.com" is not an email address`},
		{name: "reply_to from the row invalid", row: ann(`,"reply":"care"`),
			err: `mapping.reply_to: "***" is not an email address`},
		{name: "sender_name boolean", row: ann(`,"sender":false`),
			err: `mapping.sender_name: column "sender" holds a boolean, not text`},
		{name: "location_id array", row: ann(`,"store":["a"]`),
			err: `mapping.location_id: column "store" holds an array, which only tags and product_sku accept`},
		{name: "tags boolean", row: ann(`,"tags":true`),
			err: `mapping.tags: column "tags" holds a boolean, not text`},
	}...)
	run(t, scenarios)
}

// TestMapPrecedence: activation wins; else destination default; else the row's column;
// else omitted. For every field that has all three sources.
func TestMapPrecedence(t *testing.T) {
	type source struct {
		key    string // the invitation's JSON key
		column string
		set    func(a *activation.Activation, d *activation.Destination, onActivation, onDestination string)
	}
	sources := []source{
		{"senderName", "sender", func(a *activation.Activation, d *activation.Destination, av, dv string) {
			a.SenderName, d.Defaults.SenderName = av, dv
		}},
		{"senderEmail", "sender_email", func(a *activation.Activation, d *activation.Destination, av, dv string) {
			a.SenderEmail, d.Defaults.SenderEmail = av, dv
		}},
		{"replyTo", "reply", func(a *activation.Activation, d *activation.Destination, av, dv string) {
			a.ReplyTo, d.Defaults.ReplyTo = av, dv
		}},
	}
	levels := []struct {
		name      string
		act, dest string
		row       string // JSON value of the column, "" for absent
		want      string
	}{
		{"activation wins over destination and row", "a@act.example", "d@dest.example", `"r@row.example"`, "a@act.example"},
		{"activation wins over an invalid row value", "a@act.example", "", `"not an email"`, "a@act.example"},
		{"destination wins over row", "", "d@dest.example", `"r@row.example"`, "d@dest.example"},
		{"destination wins over a boolean row value", "", "d@dest.example", `true`, "d@dest.example"},
		{"row when neither is set", "", "", `" r@row.example "`, "r@row.example"},
		{"omitted when none has a value", "", "", `null`, ""},
	}
	var scenarios []scenario
	for _, src := range sources {
		for _, lv := range levels {
			extra := ""
			if lv.row != "" {
				extra = `,"` + src.column + `":` + lv.row
			}
			want := `{` + annJSON + `,"type":"email","serviceReviewInvitation":{}}`
			if lv.want != "" {
				// senderEmail, senderName and replyTo follow the required fields in this order.
				want = `{` + annJSON + `,"` + src.key + `":"` + lv.want + `","type":"email","serviceReviewInvitation":{}}`
			}
			set, av, dv := src.set, lv.act, lv.dest
			scenarios = append(scenarios, scenario{
				name:  src.key + ": " + lv.name,
				setup: func(a *activation.Activation, d *activation.Destination) { set(a, d, av, dv) },
				row:   ann(extra),
				want:  want,
			})
		}
	}
	run(t, scenarios)
}

func TestMapServiceSettings(t *testing.T) {
	defaults := func(_ *activation.Activation, d *activation.Destination) {
		d.Defaults = activation.Defaults{ServiceTemplateID: "dest-tpl", ServiceRedirectURI: "https://dest.example/thanks", ServiceTags: []string{"dest"}}
	}
	run(t, []scenario{
		{name: "destination defaults apply", setup: defaults, row: ann(`,"tags":"row"`),
			want: `{` + annJSON + `,"type":"email","serviceReviewInvitation":{"templateId":"dest-tpl","redirectUri":"https://dest.example/thanks","tags":["dest"]}}`},
		{name: "activation settings win over destination defaults",
			setup: func(a *activation.Activation, d *activation.Destination) {
				defaults(a, d)
				a.Service = &activation.ServiceSettings{TemplateID: "act-tpl", RedirectURI: "https://act.example/thanks", Tags: []string{"act", "eu"}}
			},
			row:  ann(`,"tags":"row"`),
			want: `{` + annJSON + `,"type":"email","serviceReviewInvitation":{"templateId":"act-tpl","redirectUri":"https://act.example/thanks","tags":["act","eu"]}}`},
		{name: "activation sets only tags: the rest from the destination",
			setup: func(a *activation.Activation, d *activation.Destination) {
				defaults(a, d)
				a.Service = &activation.ServiceSettings{Tags: []string{"act"}}
			},
			row:  ann(""),
			want: `{` + annJSON + `,"type":"email","serviceReviewInvitation":{"templateId":"dest-tpl","redirectUri":"https://dest.example/thanks","tags":["act"]}}`},
		{name: "activation tags replace the row's, never merged",
			setup: func(a *activation.Activation, _ *activation.Destination) {
				a.Service = &activation.ServiceSettings{Tags: []string{"act"}}
			},
			row:  ann(`,"tags":["row1","row2"]`),
			want: `{` + annJSON + `,"type":"email","serviceReviewInvitation":{"tags":["act"]}}`},
		{name: "fixed tags leave an invalid tags column unread", setup: defaults, row: ann(`,"tags":true`),
			want: `{` + annJSON + `,"type":"email","serviceReviewInvitation":{"templateId":"dest-tpl","redirectUri":"https://dest.example/thanks","tags":["dest"]}}`},
		{name: "empty activation tags are not set: destination tags apply",
			setup: func(a *activation.Activation, d *activation.Destination) {
				defaults(a, d)
				a.Service = &activation.ServiceSettings{Tags: []string{}}
			},
			row:  ann(`,"tags":"row"`),
			want: `{` + annJSON + `,"type":"email","serviceReviewInvitation":{"templateId":"dest-tpl","redirectUri":"https://dest.example/thanks","tags":["dest"]}}`},
		{name: "service settings are not sent with a product invitation",
			setup: func(a *activation.Activation, d *activation.Destination) {
				defaults(a, d)
				a.InvitationType = activation.Product
				a.Product = &activation.ProductSettings{SKUs: []string{"SKU-1"}}
			},
			row:  ann(`,"tags":true`),
			want: `{` + annJSON + `,"type":"email","productReviewInvitation":{"productSkus":["SKU-1"]}}`},
	})
}

func TestMapProductSettings(t *testing.T) {
	perRow := func(a *activation.Activation, _ *activation.Destination) {
		a.InvitationType = activation.Product
		a.Product = &activation.ProductSettings{SKUPerRow: true}
	}
	fixed := func(a *activation.Activation, _ *activation.Destination) {
		a.InvitationType = activation.Product
		a.Product = &activation.ProductSettings{SKUs: []string{"SKU-1", "SKU-2"}}
	}
	const noSKU = `mapping.product_sku: required, but column "sku" has no value (absent, null or blank)`
	run(t, []scenario{
		{name: "sku per row: a string is one SKU", setup: perRow, row: ann(`,"sku":" SKU-1 "`),
			want: `{` + annJSON + `,"type":"email","productReviewInvitation":{"productSkus":["SKU-1"]}}`},
		{name: "sku per row: commas stay in the SKU", setup: perRow, row: ann(`,"sku":"SKU-1,SKU-2"`),
			want: `{` + annJSON + `,"type":"email","productReviewInvitation":{"productSkus":["SKU-1,SKU-2"]}}`},
		{name: "sku per row: an array is several SKUs", setup: perRow, row: ann(`,"sku":["SKU-1"," ","SKU-2 "]`),
			want: `{` + annJSON + `,"type":"email","productReviewInvitation":{"productSkus":["SKU-1","SKU-2"]}}`},
		{name: "sku per row: a number is its decimal text", setup: perRow, row: ann(`,"sku":4006381333931`),
			want: `{` + annJSON + `,"type":"email","productReviewInvitation":{"productSkus":["4006381333931"]}}`},
		{name: "sku per row: absent", setup: perRow, row: ann(""), err: noSKU},
		{name: "sku per row: blank", setup: perRow, row: ann(`,"sku":"  "`), err: noSKU},
		{name: "sku per row: array of blanks", setup: perRow, row: ann(`,"sku":["", " "]`), err: noSKU},
		{name: "sku per row: boolean", setup: perRow, row: ann(`,"sku":false`),
			err: `mapping.product_sku: column "sku" holds a boolean, not text`},
		{name: "fixed SKUs apply to every row; the column is not read", setup: fixed, row: ann(`,"sku":true`),
			want: `{` + annJSON + `,"type":"email","productReviewInvitation":{"productSkus":["SKU-1","SKU-2"]}}`},
		{name: "product settings: destination defaults",
			setup: func(a *activation.Activation, d *activation.Destination) {
				fixed(a, d)
				d.Defaults = activation.Defaults{ProductTemplateID: "dest-tpl", ProductRedirectURI: "https://dest.example/p"}
			},
			row:  ann(""),
			want: `{` + annJSON + `,"type":"email","productReviewInvitation":{"templateId":"dest-tpl","redirectUri":"https://dest.example/p","productSkus":["SKU-1","SKU-2"]}}`},
		{name: "product settings: activation wins",
			setup: func(a *activation.Activation, d *activation.Destination) {
				fixed(a, d)
				a.Product.TemplateID, a.Product.RedirectURI = "act-tpl", "https://act.example/p"
				d.Defaults = activation.Defaults{ProductTemplateID: "dest-tpl", ProductRedirectURI: "https://dest.example/p"}
			},
			row:  ann(""),
			want: `{` + annJSON + `,"type":"email","productReviewInvitation":{"templateId":"act-tpl","redirectUri":"https://act.example/p","productSkus":["SKU-1","SKU-2"]}}`},
		{name: "both: service and product parts",
			setup: func(a *activation.Activation, d *activation.Destination) {
				perRow(a, d)
				a.InvitationType = activation.Both
				d.Defaults = activation.Defaults{ServiceTemplateID: "s-tpl", ProductTemplateID: "p-tpl"}
			},
			row:  ann(`,"sku":"SKU-9","tags":"vip"`),
			want: `{` + annJSON + `,"type":"email","serviceReviewInvitation":{"templateId":"s-tpl","tags":["vip"]},"productReviewInvitation":{"templateId":"p-tpl","productSkus":["SKU-9"]}}`},
		{name: "service: product settings and SKU column ignored",
			setup: func(a *activation.Activation, d *activation.Destination) {
				d.Defaults = activation.Defaults{ProductTemplateID: "p-tpl"}
				a.Product = &activation.ProductSettings{SKUPerRow: true}
			},
			row:  ann(`,"sku":false`),
			want: `{` + annJSON + `,"type":"email","serviceReviewInvitation":{}}`},
	})
}

func TestMapInvitationsOwnTheirSlices(t *testing.T) {
	a, d := base()
	a.InvitationType = activation.Both
	a.Service = &activation.ServiceSettings{Tags: []string{"act"}}
	a.Product = &activation.ProductSettings{SKUs: []string{"SKU-1"}}
	m := New(a, d)
	r := decodeRow(t, ann(""))
	first, err := m.Map(r)
	if err != nil {
		t.Fatal(err)
	}
	first.ServiceReviewInvitation.Tags[0] = "changed"
	first.ProductReviewInvitation.ProductSKUs[0] = "changed"
	a.Service.Tags[0], a.Product.SKUs[0] = "changed", "changed"
	second, err := m.Map(r)
	if err != nil {
		t.Fatal(err)
	}
	if second.ServiceReviewInvitation.Tags[0] != "act" || second.ProductReviewInvitation.ProductSKUs[0] != "SKU-1" {
		t.Errorf("a change to one invitation or to the activation reached the next: %+v %+v",
			second.ServiceReviewInvitation, second.ProductReviewInvitation)
	}
}
