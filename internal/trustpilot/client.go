package trustpilot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Operation names, as they appear in APIError.Op.
const (
	opInvite    = "create email invitation"
	opTemplates = "list templates"
	opFind      = "find business unit"
)

// Client calls Trustpilot's API with one set of credentials. It is safe for
// concurrent use.
type Client struct {
	t              *transport
	tokens         *TokenSource
	apiBase        string
	invBase        string
	apiKey         string
	businessUserID string
}

// New returns a Client for cfg, or cfg's validation errors.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	t := newTransport(cfg)
	return &Client{
		t:              t,
		tokens:         newTokenSource(cfg, t),
		apiBase:        cfg.APIBaseURL,
		invBase:        cfg.InvitationsBaseURL,
		apiKey:         cfg.APIKey,
		businessUserID: cfg.BusinessUserID,
	}, nil
}

// CreateEmailInvitation asks Trustpilot to send inv to one consumer on behalf
// of the business unit. A nil error means Trustpilot accepted it (any 2xx,
// with or without a body); Trustpilot sends it later. A 401 is retried once
// with a fresh token; nothing else is retried. See the package doc for the
// error classes.
func (c *Client) CreateEmailInvitation(ctx context.Context, businessUnitID string, inv Invitation) error {
	if inv.Type == "" {
		inv.Type = InvitationTypeEmail
	}
	body, _ := json.Marshal(inv) // cannot fail: strings and slices of strings only
	_, _, err := c.authed(ctx, businessUnitID, exchange{
		op:       opInvite,
		method:   http.MethodPost,
		url:      c.invBase + businessUnitPath(businessUnitID, "email-invitations"),
		header:   http.Header{"Content-Type": {"application/json"}},
		body:     body,
		classify: classifyCall,
		email:    inv.ConsumerEmail,
	})
	return err
}

// ListTemplates returns the business unit's invitation templates. A 401 is
// retried once with a fresh token.
func (c *Client) ListTemplates(ctx context.Context, businessUnitID string) ([]Template, error) {
	status, body, err := c.authed(ctx, businessUnitID, exchange{
		op:       opTemplates,
		method:   http.MethodGet,
		url:      c.invBase + businessUnitPath(businessUnitID, "templates"),
		header:   http.Header{},
		readBody: true,
		classify: classifyCall,
	})
	if err != nil {
		return nil, err
	}
	var r struct {
		Templates []Template `json:"templates"`
	}
	if json.Unmarshal(body, &r) != nil {
		return nil, unexpectedAnswer(opTemplates, status, "the answer is not a template list", "InvitationsBaseURL", DefaultInvitationsBaseURL)
	}
	return r.Templates, nil
}

// FindBusinessUnit looks up the business unit of a domain (e.g.
// "example.com") on the API host, authenticated by the API key alone.
func (c *Client) FindBusinessUnit(ctx context.Context, domain string) (BusinessUnit, error) {
	if domain == "" {
		return BusinessUnit{}, &APIError{Op: opFind, Class: ClassRejected, Message: "the domain is empty", Hint: "give the domain of the Trustpilot profile, e.g. example.com"}
	}
	status, body, err := c.t.do(ctx, exchange{
		op:       opFind,
		method:   http.MethodGet,
		url:      c.apiBase + "/v1/business-units/find?" + url.Values{"name": {domain}}.Encode(),
		header:   http.Header{"Apikey": {c.apiKey}},
		readBody: true,
		classify: classifyCall,
	})
	if e, ok := errors.AsType[*APIError](err); ok {
		e.Hint = findHint(e, domain)
	}
	if err != nil {
		return BusinessUnit{}, err
	}
	var bu BusinessUnit
	if json.Unmarshal(body, &bu) != nil || bu.ID == "" {
		return BusinessUnit{}, unexpectedAnswer(opFind, status, "the answer is not a business unit with an id", "APIBaseURL", DefaultAPIBaseURL)
	}
	return bu, nil
}

// authed sends x to the invitations host with a bearer token and, when
// configured, x-business-user-id. On a 401 it invalidates the token and
// sends x once more with a fresh one; the second answer stands.
func (c *Client) authed(ctx context.Context, businessUnitID string, x exchange) (int, []byte, error) {
	if businessUnitID == "" {
		return 0, nil, &APIError{Op: x.op, Class: ClassDestinationBroken, Message: "the business unit id is empty", Hint: "set the destination's business unit id"}
	}
	if c.businessUserID != "" {
		x.header.Set("X-Business-User-Id", c.businessUserID)
	}
	for attempt := 1; ; attempt++ {
		tok, err := c.tokens.Token(ctx)
		if err != nil {
			return 0, nil, err
		}
		x.header.Set("Authorization", "Bearer "+tok)
		x.secrets = []string{tok}
		status, body, err := c.t.do(ctx, x)
		e, ok := errors.AsType[*APIError](err)
		if ok && e.Status == http.StatusUnauthorized && attempt == 1 {
			c.tokens.Invalidate(tok)
			continue
		}
		if ok {
			e.Hint = c.invitationsHint(e, businessUnitID)
		}
		return status, body, err
	}
}

// businessUnitPath is the invitations-host path of a business unit's
// resource.
func businessUnitPath(businessUnitID, resource string) string {
	return "/v1/private/business-units/" + url.PathEscape(businessUnitID) + "/" + resource
}

// invitationsHint says what to check when the invitations host answered e.
func (c *Client) invitationsHint(e *APIError, businessUnitID string) string {
	switch {
	case e.Status == http.StatusUnauthorized:
		return "a freshly minted token was refused too: check that the application of APIKey may use the Invitation API"
	case e.Status == http.StatusForbidden && e.ErrorCode == "1014":
		switch c.businessUserID {
		case "":
			return "set BusinessUserID (sent as x-business-user-id): tokens of the client_credentials grant need the business USER id"
		case businessUnitID:
			return "BusinessUserID equals the business unit id: x-business-user-id must be the business USER id, not the business unit id"
		}
		return "x-business-user-id must be the business USER id (not the business unit id) of a user of this business unit: check BusinessUserID"
	case e.Status == http.StatusForbidden && isHTML(e.Body):
		return "an HTML 403 comes from Trustpilot's CDN or firewall, not from the API: check InvitationsBaseURL and that this network may reach Trustpilot"
	case e.Status == http.StatusForbidden:
		return fmt.Sprintf("access refused: check that the application of APIKey is connected to business unit %q and that its plan includes the Invitation API", businessUnitID)
	case e.Status == http.StatusNotFound:
		return fmt.Sprintf("unknown business unit %q, or InvitationsBaseURL is not Trustpilot's invitations host (%s): the API host answers 404 to invitation paths", businessUnitID, DefaultInvitationsBaseURL)
	case e.Status == http.StatusUnsupportedMediaType:
		return "Trustpilot refused the Content-Type: this is a bug in invitepipe, please report it"
	}
	return commonHint(e, "InvitationsBaseURL")
}

// findHint says what to check when the business-unit lookup answered e.
func findHint(e *APIError, domain string) string {
	switch e.Status {
	case http.StatusNotFound:
		return fmt.Sprintf("no business unit has the domain %q: use the domain of the Trustpilot profile, e.g. example.com", domain)
	case http.StatusUnauthorized, http.StatusForbidden:
		return "the API host refused APIKey: check it"
	}
	return commonHint(e, "APIBaseURL")
}

// commonHint covers the answers any host may give; baseField names the
// Config field of the host that answered.
func commonHint(e *APIError, baseField string) string {
	switch {
	case e.Status >= 300 && e.Status < 400:
		return fmt.Sprintf("%s redirects: set it to the URL it redirects to", baseField)
	case e.Status == http.StatusMethodNotAllowed:
		return fmt.Sprintf("check %s: the host answering is not Trustpilot's", baseField)
	case e.Class == ClassRateLimited:
		return "Trustpilot allows about 833 calls per 5 minutes and 10,000 per hour per API key: slow this destination down"
	}
	return ""
}

// unexpectedAnswer is the error for a 2xx whose body is not what the
// operation returns: the host answering is probably not Trustpilot's.
func unexpectedAnswer(op string, status int, msg, baseField, def string) *APIError {
	return &APIError{Op: op, Status: status, Class: ClassDestinationBroken, Message: msg,
		Hint: fmt.Sprintf("check %s: it must be Trustpilot's host (%s)", baseField, def)}
}

// isHTML reports whether a body snippet is an HTML page.
func isHTML(body string) bool { return strings.HasPrefix(body, "<") }
