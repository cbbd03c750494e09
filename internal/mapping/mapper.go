package mapping

import (
	"slices"
	"strings"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/row"
	"github.com/invitepipe/invitepipe/internal/trustpilot"
)

// Mapper turns the rows of one activation into invitations. Build one per activation
// when the activation file is loaded: New settles the precedence of fixed values once,
// so Map only reads the row.
type Mapper struct {
	typ  fixed[activation.InvitationType]
	cols activation.Mapping
	// Fixed values from the activation or its destination; Omitted: from the row.
	senderName, senderEmail, replyTo fixed[string]
	serviceTags, skus                fixed[[]string]
	// Template ids and redirect URIs: fixed or omitted.
	serviceTemplateID, serviceRedirectURI fixed[string]
	productTemplateID, productRedirectURI fixed[string]
}

// fixed is a value the activation or its destination sets for every row, with which of
// them set it; from is Omitted (and v zero) when neither does.
type fixed[T any] struct {
	v    T
	from Source
}

// New returns the Mapper of activation a, whose destination is d. Both come from a
// File that activation.Load or activation.Parse returned.
func New(a *activation.Activation, d *activation.Destination) *Mapper {
	df := d.Defaults
	var svc activation.ServiceSettings
	if a.Service != nil {
		svc = *a.Service
	}
	var prod activation.ProductSettings
	if a.Product != nil {
		prod = *a.Product
	}
	m := &Mapper{
		typ:                fixed[activation.InvitationType]{v: a.InvitationType, from: FromActivation},
		cols:               a.Mapping,
		senderName:         firstSet(a.SenderName, df.SenderName),
		senderEmail:        firstSet(a.SenderEmail, df.SenderEmail),
		replyTo:            firstSet(a.ReplyTo, df.ReplyTo),
		serviceTags:        firstList(svc.Tags, df.ServiceTags),
		serviceTemplateID:  firstSet(svc.TemplateID, df.ServiceTemplateID),
		serviceRedirectURI: firstSet(svc.RedirectURI, df.ServiceRedirectURI),
		productTemplateID:  firstSet(prod.TemplateID, df.ProductTemplateID),
		productRedirectURI: firstSet(prod.RedirectURI, df.ProductRedirectURI),
	}
	if a.InvitationTypeDefaulted {
		m.typ.from = FromDestination
	}
	if !prod.SKUPerRow {
		m.skus = firstList(prod.SKUs, nil)
	}
	return m
}

// Map returns the invitation for row r, or an *InvalidRowError when Trustpilot would
// certainly refuse it.
func (m *Mapper) Map(r row.Row) (trustpilot.Invitation, error) {
	b := builder{row: r}
	// Read in the order of the mapping's fields, so the first problem is the one named.
	inv := trustpilot.Invitation{Type: trustpilot.InvitationTypeEmail}
	inv.ConsumerName = b.required(fieldConsumerName, m.cols.ConsumerName)
	inv.ConsumerEmail = b.email(fieldConsumerEmail, b.required(fieldConsumerEmail, m.cols.ConsumerEmail))
	inv.ReferenceNumber = b.reference(b.required(fieldReferenceNumber, m.cols.ReferenceNumber))
	inv.ReplyTo = b.fixedOrEmail(m.replyTo.v, fieldReplyTo, m.cols.ReplyTo)
	inv.Locale = b.locale(m.cols.Locale, b.text(fieldLocale, m.cols.Locale))
	inv.SenderName = b.fixedOr(m.senderName.v, fieldSenderName, m.cols.SenderName)
	inv.SenderEmail = b.fixedOrEmail(m.senderEmail.v, fieldSenderEmail, m.cols.SenderEmail)
	inv.LocationID = b.text(fieldLocationID, m.cols.LocationID)
	if m.typ.v.WantsService() {
		tags := slices.Clone(m.serviceTags.v)
		if tags == nil {
			tags = b.list(fieldTags, m.cols.Tags, splitTags)
		}
		inv.ServiceReviewInvitation = &trustpilot.ServiceReviewInvitation{
			TemplateID:  m.serviceTemplateID.v,
			RedirectURI: m.serviceRedirectURI.v,
			Tags:        tags,
		}
	}
	if m.typ.v.WantsProduct() {
		skus := slices.Clone(m.skus.v)
		if skus == nil {
			skus = b.list(fieldProductSKU, m.cols.ProductSKU, oneSKU)
			b.require(fieldProductSKU, m.cols.ProductSKU, len(skus) > 0)
		}
		inv.ProductReviewInvitation = &trustpilot.ProductReviewInvitation{
			TemplateID:  m.productTemplateID.v,
			RedirectURI: m.productRedirectURI.v,
			ProductSKUs: skus,
		}
	}
	if b.err != nil {
		return trustpilot.Invitation{}, b.err
	}
	return inv, nil
}

// firstSet applies the precedence of a fixed text: the activation's value, else the
// destination's default, trimmed; Omitted when both are blank.
func firstSet(own, dflt string) fixed[string] {
	if v := strings.TrimSpace(own); v != "" {
		return fixed[string]{v, FromActivation}
	}
	if v := strings.TrimSpace(dflt); v != "" {
		return fixed[string]{v, FromDestination}
	}
	return fixed[string]{}
}

// firstList applies the precedence of a fixed list: the activation's, else the
// destination's default, cleaned (cleanList); an empty list is not set.
func firstList(own, dflt []string) fixed[[]string] {
	if v := cleanList(own); v != nil {
		return fixed[[]string]{v, FromActivation}
	}
	if v := cleanList(dflt); v != nil {
		return fixed[[]string]{v, FromDestination}
	}
	return fixed[[]string]{}
}

// cleanList trims each item and drops blank ones; nil when none is left.
func cleanList(items []string) []string {
	var out []string
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

// splitTags reads a tags string: comma-separated tags.
func splitTags(s string) []string { return cleanList(strings.Split(s, ",")) }

// oneSKU reads a SKU string: one SKU, commas included.
func oneSKU(s string) []string { return cleanList([]string{s}) }
