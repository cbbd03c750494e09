package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// badRequest is a request the API refuses with 400; its text is the answer's message.
type badRequest string

func (b badRequest) Error() string { return string(b) }

func badRequestf(format string, args ...any) error { return badRequest(fmt.Sprintf(format, args...)) }

// object is a JSON object whose keys match exactly (encoding/json would also match
// them case-insensitively, which the real API does not).
type object map[string]json.RawMessage

// decodeObject parses a JSON object; at is its path for messages ("" for the body).
func decodeObject(raw json.RawMessage, at string) (object, error) {
	var o object
	if err := json.Unmarshal(raw, &o); err != nil || o == nil {
		if at == "" {
			return nil, badRequest("The request body must be a JSON object")
		}
		return nil, badRequestf("%s must be an object", at)
	}
	return o, nil
}

// field decodes key into dst; an absent key or null leaves dst alone and returns false.
func (o object) field(key, at, kind string, dst any) (bool, error) {
	raw, ok := o[key]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return false, nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return false, badRequestf("%s%s must be %s", at, key, kind)
	}
	return true, nil
}

// str returns an optional string field.
func (o object) str(key, at string) (string, error) {
	var s string
	_, err := o.field(key, at, "a string", &s)
	return s, err
}

// required returns a string field that must be present and not blank.
func (o object) required(key, at string) (string, error) {
	s, err := o.str(key, at)
	if err == nil && strings.TrimSpace(s) == "" {
		err = badRequestf("%s%s is required", at, key)
	}
	return s, err
}

// strs returns an optional array of strings.
func (o object) strs(key, at string) ([]string, bool, error) {
	var v []string
	ok, err := o.field(key, at, "an array of strings", &v)
	return v, ok, err
}

// sub returns an optional nested object.
func (o object) sub(key, at string) (object, error) {
	var raw json.RawMessage
	if ok, err := o.field(key, at, "an object", &raw); !ok || err != nil {
		return nil, err
	}
	return decodeObject(raw, at+key)
}

var (
	localeSyntax = regexp.MustCompile(`^[A-Za-z]{2,3}-[A-Za-z]{2}$`)
	// sendTimeFormats are the three preferredSendTime formats Trustpilot accepts, all UTC.
	sendTimeFormats = []struct {
		syntax *regexp.Regexp
		layout string
	}{
		{regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$`), "2006-01-02T15:04:05"},
		{regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`), "2006-01-02T15:04:05Z"},
		{regexp.MustCompile(`^\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}$`), "01/02/2006 15:04:05"},
	}
)

// forbiddenReferenceChars break the review links of a reference number.
const forbiddenReferenceChars = `#*+"%&`

// validEmail accepts a bare address (no display name, no angle brackets) whose
// domain has a dot.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	domain := s[strings.LastIndexByte(s, '@')+1:]
	return strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// parseSendTime parses a preferredSendTime in one of the accepted UTC formats.
func parseSendTime(s, at string) (time.Time, error) {
	// the syntax check first: time.Parse would also accept fractional seconds
	for _, f := range sendTimeFormats {
		if f.syntax.MatchString(s) {
			if t, err := time.Parse(f.layout, s); err == nil {
				return t, nil
			}
		}
	}
	return time.Time{}, badRequestf("%s must be a UTC time like 2013-09-07T13:37:00, 2013-09-07T13:37:00Z or 09/07/2013 13:37:00", at)
}

// checkEmail checks an optional email field.
func (o object) checkEmail(key, at string) error {
	s, err := o.str(key, at)
	if err == nil && s != "" && !validEmail(s) {
		err = badRequestf("%s%s is not a valid email address", at, key)
	}
	return err
}

// checkLocale checks an optional locale field: ll-CC, any case.
func (o object) checkLocale(key, at string) error {
	s, err := o.str(key, at)
	if err == nil && s != "" && !localeSyntax.MatchString(s) {
		err = badRequestf("%s%s must look like en-US", at, key)
	}
	return err
}

// checkReference checks a required reference field.
func (o object) checkReference(key string) (string, error) {
	s, err := o.required(key, "")
	if err == nil && strings.ContainsAny(s, forbiddenReferenceChars) {
		err = badRequestf("%s must not contain any of # * + \" %% &", key)
	}
	return s, err
}

// checkRedirect checks an optional redirectUri: an absolute http(s) URL.
func (o object) checkRedirect(at string) error {
	s, err := o.str("redirectUri", at)
	if err != nil || s == "" {
		return err
	}
	if u, perr := url.Parse(s); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return badRequestf("%sredirectUri must be an absolute http or https URL", at)
	}
	return nil
}

// acceptedInvitation is what the sandbox keeps of a valid email invitation body.
type acceptedInvitation struct {
	email, name, reference string
	kind                   string // service, product or both
	sendAt                 time.Time
}

// parseInvitation validates an email invitation body the way the API does (400 with a
// badRequest on the first problem). Parts without preferredSendTime are due at
// defaultSend; an invitation with neither part is a service invitation.
func parseInvitation(body []byte, defaultSend time.Time) (acceptedInvitation, error) {
	var inv acceptedInvitation
	o, err := decodeObject(body, "")
	if err != nil {
		return inv, err
	}
	if inv.email, err = o.required("consumerEmail", ""); err != nil {
		return inv, err
	}
	if !validEmail(inv.email) {
		return inv, badRequest("consumerEmail is not a valid email address")
	}
	if inv.name, err = o.required("consumerName", ""); err != nil {
		return inv, err
	}
	if inv.reference, err = o.checkReference("referenceNumber"); err != nil {
		return inv, err
	}
	if err := o.checkLocale("locale", ""); err != nil {
		return inv, err
	}
	for _, key := range []string{"senderEmail", "replyTo"} {
		if err := o.checkEmail(key, ""); err != nil {
			return inv, err
		}
	}
	for _, key := range []string{"senderName", "locationId"} {
		if _, err := o.str(key, ""); err != nil {
			return inv, err
		}
	}
	if typ, err := o.str("type", ""); err != nil {
		return inv, err
	} else if typ != "" && typ != "email" {
		return inv, badRequest(`type must be "email"`)
	}

	service, err := o.sub("serviceReviewInvitation", "")
	if err != nil {
		return inv, err
	}
	product, err := o.sub("productReviewInvitation", "")
	if err != nil {
		return inv, err
	}
	serviceTime, serviceSet, err := checkPart(service, "serviceReviewInvitation.")
	if err != nil {
		return inv, err
	}
	if _, _, err := service.strs("tags", "serviceReviewInvitation."); err != nil {
		return inv, err
	}
	productTime, productSet, err := checkPart(product, "productReviewInvitation.")
	if err != nil {
		return inv, err
	}
	if product != nil {
		if err := checkProducts(product); err != nil {
			return inv, err
		}
	}
	if serviceSet && productSet && !serviceTime.Before(productTime) {
		return inv, badRequest("serviceReviewInvitation.preferredSendTime must be before productReviewInvitation.preferredSendTime")
	}

	inv.kind = "service"
	switch {
	case service != nil && product != nil:
		inv.kind = "both"
	case product != nil:
		inv.kind = "product"
	}
	// The invitation is due when its earliest part is: a part's own time, else the
	// account's delay. Neither part given means a service invitation.
	parts := []struct {
		present, set bool
		t            time.Time
	}{{service != nil || product == nil, serviceSet, serviceTime}, {product != nil, productSet, productTime}}
	first := true
	for _, p := range parts {
		if !p.present {
			continue
		}
		if !p.set {
			p.t = defaultSend
		}
		if first || p.t.Before(inv.sendAt) {
			inv.sendAt, first = p.t, false
		}
	}
	return inv, nil
}

// checkPart checks the fields a service and a product part share and returns its
// preferredSendTime, if set. A nil part is absent.
func checkPart(part object, at string) (time.Time, bool, error) {
	if part == nil {
		return time.Time{}, false, nil
	}
	if _, err := part.str("templateId", at); err != nil {
		return time.Time{}, false, err
	}
	if err := part.checkRedirect(at); err != nil {
		return time.Time{}, false, err
	}
	s, err := part.str("preferredSendTime", at)
	if err != nil || s == "" {
		return time.Time{}, false, err
	}
	t, err := parseSendTime(s, at+"preferredSendTime")
	return t, err == nil, err
}

// checkProducts checks that a product part names products by exactly one of
// productSkus (strings) or products (objects with sku and name).
func checkProducts(product object) error {
	const at = "productReviewInvitation."
	skus, hasSkus, err := product.strs("productSkus", at)
	if err != nil {
		return err
	}
	var products []json.RawMessage
	hasProducts, err := product.field("products", at, "an array of objects", &products)
	if err != nil {
		return err
	}
	switch {
	case hasSkus && hasProducts:
		return badRequest(at + "productSkus and products cannot both be given")
	case !hasSkus && !hasProducts:
		return badRequest(at + "one of productSkus or products is required")
	case hasSkus && len(skus) == 0, hasProducts && len(products) == 0:
		return badRequest(at + "the product list is empty")
	}
	for i, sku := range skus {
		if strings.TrimSpace(sku) == "" {
			return badRequestf("%sproductSkus[%d] is blank", at, i)
		}
	}
	for i, raw := range products {
		pat := fmt.Sprintf("%sproducts[%d].", at, i)
		p, err := decodeObject(raw, strings.TrimSuffix(pat, "."))
		if err != nil {
			return err
		}
		for _, key := range []string{"sku", "name"} {
			if _, err := p.required(key, pat); err != nil {
				return err
			}
		}
		for _, key := range []string{"productUrl", "imageUrl", "mpn", "gtin", "brand"} {
			if _, err := p.str(key, pat); err != nil {
				return err
			}
		}
	}
	return nil
}
