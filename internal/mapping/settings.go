package mapping

import (
	"strings"

	"github.com/invitepipe/invitepipe/internal/activation"
)

// Source says where the value of an invitation setting comes from, by the precedence
// rules: the activation, else the destination's defaults, else a mapped column of each
// row, else nowhere.
type Source int

// The sources, Omitted first: the zero Source is no value.
const (
	// Omitted: no value; the field is left out and Trustpilot's account default applies.
	Omitted Source = iota
	// FromActivation: the activation sets it for every row.
	FromActivation
	// FromDestination: the destination's defaults set it for every row.
	FromDestination
	// FromColumn: each row's mapped column holds it.
	FromColumn
)

// Setting is one resolved setting of an activation's invitations.
type Setting struct {
	// Name is the setting as the activation writes it, e.g. "service.template_id".
	Name string
	// Value is the fixed value, lists joined with ", "; "" when the value comes from the
	// row or is omitted.
	Value  string
	Source Source
	// Path is where the file sets it: Name on the activation, "defaults.<key>" on the
	// destination, "mapping.<field>" for a column; "" when omitted.
	Path string
	// Column is the row's column when Source is FromColumn.
	Column string
}

// From says where the value comes from: "activation", "destination default", "mapped
// column <name>" or "omitted".
func (s Setting) From() string {
	switch s.Source {
	case FromActivation:
		return "activation"
	case FromDestination:
		return "destination default"
	case FromColumn:
		return "mapped column " + s.Column
	}
	return "omitted"
}

// Names of the template id settings, which the business unit must have.
const (
	SettingServiceTemplateID = "service.template_id"
	SettingProductTemplateID = "product.template_id"
)

// Settings lists the settings of the invitations of activation a, whose destination is
// d, each with its value and where the value comes from, resolved as Map resolves them.
// The order is the invitation type, the invitation's common fields in the mapping's
// order, then the service and product parts, of which only those the invitation type
// builds are listed.
func Settings(a *activation.Activation, d *activation.Destination) []Setting {
	return New(a, d).settings()
}

func (m *Mapper) settings() []Setting {
	c := m.cols
	out := []Setting{
		resolved("invitation_type", "invitation_type", fixed[string]{string(m.typ.v), m.typ.from}, "", ""),
		resolved(fieldConsumerName, "", fixed[string]{}, fieldConsumerName, c.ConsumerName),
		resolved(fieldConsumerEmail, "", fixed[string]{}, fieldConsumerEmail, c.ConsumerEmail),
		resolved(fieldReferenceNumber, "", fixed[string]{}, fieldReferenceNumber, c.ReferenceNumber),
		resolved("reply_to", "reply_to", m.replyTo, fieldReplyTo, c.ReplyTo),
		resolved(fieldLocale, "", fixed[string]{}, fieldLocale, c.Locale),
		resolved("sender_name", "sender_name", m.senderName, fieldSenderName, c.SenderName),
		resolved("sender_email", "sender_email", m.senderEmail, fieldSenderEmail, c.SenderEmail),
		resolved(fieldLocationID, "", fixed[string]{}, fieldLocationID, c.LocationID),
	}
	if m.typ.v.WantsService() {
		out = append(out,
			resolved(SettingServiceTemplateID, "service_template_id", m.serviceTemplateID, "", ""),
			resolved("service.redirect_uri", "service_redirect_uri", m.serviceRedirectURI, "", ""),
			resolved("service.tags", "service_tags", joined(m.serviceTags), fieldTags, c.Tags),
		)
	}
	if m.typ.v.WantsProduct() {
		skuColumn := "" // read only with product.sku_per_row, i.e. without fixed SKUs
		if m.skus.from == Omitted {
			skuColumn = c.ProductSKU
		}
		out = append(out,
			resolved(SettingProductTemplateID, "product_template_id", m.productTemplateID, "", ""),
			resolved("product.redirect_uri", "product_redirect_uri", m.productRedirectURI, "", ""),
			resolved("product.skus", "", joined(m.skus), fieldProductSKU, skuColumn),
		)
	}
	return out
}

// resolved is the Setting name of value f, whose destination default is defaults.<key>;
// without a fixed value it comes from the mapping's field when that names a column.
func resolved(name, key string, f fixed[string], field, column string) Setting {
	s := Setting{Name: name, Value: f.v, Source: f.from}
	switch {
	case f.from == FromActivation:
		s.Path = name
	case f.from == FromDestination:
		s.Path = "defaults." + key
	case column != "":
		s.Source, s.Path, s.Column = FromColumn, "mapping."+field, column
	}
	return s
}

// joined writes a fixed list as one text, items separated by ", ".
func joined(f fixed[[]string]) fixed[string] {
	return fixed[string]{strings.Join(f.v, ", "), f.from}
}
