package trustpilot

// InvitationTypeEmail is the only invitation type Trustpilot documents, and
// what CreateEmailInvitation sends when Invitation.Type is empty.
const InvitationTypeEmail = "email"

// Invitation is the body of an email invitation, marshalled to exactly the
// JSON Trustpilot expects. Empty optional fields are omitted, so Trustpilot's
// account defaults apply to them. Set ServiceReviewInvitation,
// ProductReviewInvitation or both; a nil one is omitted.
type Invitation struct {
	ConsumerEmail   string `json:"consumerEmail"`   // required
	ConsumerName    string `json:"consumerName"`    // required
	ReferenceNumber string `json:"referenceNumber"` // required; the order or customer id; '#*+"%&' break review links
	Locale          string `json:"locale,omitempty"`
	SenderEmail     string `json:"senderEmail,omitempty"`
	SenderName      string `json:"senderName,omitempty"`
	ReplyTo         string `json:"replyTo,omitempty"`
	LocationID      string `json:"locationId,omitempty"`
	// Type is the invitation type; CreateEmailInvitation sends
	// InvitationTypeEmail when it is empty.
	Type                    string                   `json:"type,omitempty"`
	ServiceReviewInvitation *ServiceReviewInvitation `json:"serviceReviewInvitation,omitempty"`
	ProductReviewInvitation *ProductReviewInvitation `json:"productReviewInvitation,omitempty"`
}

// ServiceReviewInvitation asks the consumer to review the business.
type ServiceReviewInvitation struct {
	TemplateID string `json:"templateId,omitempty"`
	// PreferredSendTime is in UTC, e.g. "2013-09-07T13:37:00Z"; empty: the
	// account's delay applies. It must precede the product invitation's.
	PreferredSendTime string   `json:"preferredSendTime,omitempty"`
	RedirectURI       string   `json:"redirectUri,omitempty"`
	Tags              []string `json:"tags,omitempty"`
}

// ProductReviewInvitation asks the consumer to review products, named either
// by ProductSKUs (of a catalogue uploaded to Trustpilot) or by Products, not
// both.
type ProductReviewInvitation struct {
	TemplateID string `json:"templateId,omitempty"`
	// PreferredSendTime is in UTC, as in ServiceReviewInvitation.
	PreferredSendTime string    `json:"preferredSendTime,omitempty"`
	RedirectURI       string    `json:"redirectUri,omitempty"`
	ProductSKUs       []string  `json:"productSkus,omitempty"`
	Products          []Product `json:"products,omitempty"`
}

// Product describes one product to review.
type Product struct {
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	ProductURL string `json:"productUrl,omitempty"`
	ImageURL   string `json:"imageUrl,omitempty"`
	MPN        string `json:"mpn,omitempty"`
	GTIN       string `json:"gtin,omitempty"`
	Brand      string `json:"brand,omitempty"`
}

// Template is an invitation email template of a business unit.
type Template struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	IsDefaultTemplate bool   `json:"isDefaultTemplate"`
	Locale            string `json:"locale"`
	Type              string `json:"type"`
}

// BusinessUnit is a Trustpilot business unit found by its domain.
type BusinessUnit struct {
	// ID is the business unit id (24 hex characters in practice; opaque).
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}
