package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// invitationTemplate is one invitation template of a business unit.
type invitationTemplate struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	IsDefaultTemplate bool   `json:"isDefaultTemplate"`
	Locale            string `json:"locale"`
	Type              string `json:"type"`
}

// TemplateIDs returns the ids of the two templates the templates endpoint lists for a
// business unit, its service and its product review invitation templates: 24 hex
// characters derived from the business unit id, so they are stable across restarts.
func TemplateIDs(businessUnitID string) (service, product string) {
	id := func(kind string) string {
		sum := sha256.Sum256([]byte(businessUnitID + "/" + kind))
		return hex.EncodeToString(sum[:12])
	}
	return id("service"), id("product")
}

// handleTemplates lists the two default templates every business unit has: one for
// service reviews, one for product reviews.
func (s *Server) handleTemplates(w http.ResponseWriter, _ *http.Request, c call) {
	service, product := TemplateIDs(c.unit.ID)
	writeJSON(w, http.StatusOK, map[string][]invitationTemplate{"templates": {
		{ID: service, Name: "Default service review invitation", IsDefaultTemplate: true, Locale: "en-US", Type: "Service"},
		{ID: product, Name: "Default product review invitation", IsDefaultTemplate: true, Locale: "en-US", Type: "Product"},
	}})
}

// handleLinks creates an invitation link: 200 {"id","url"}. It requires referenceId,
// email and name, with the same syntax rules as an email invitation.
func (s *Server) handleLinks(w http.ResponseWriter, r *http.Request, _ call) {
	body := readJSONBody(w, r)
	if body == nil {
		return
	}
	if err := checkLink(body); err != nil {
		writeInvalid(w, err)
		return
	}
	id := newID()
	writeJSON(w, http.StatusOK, map[string]string{"id": id, "url": "https://www.trustpilot.com/evaluate-link/" + id})
}

func checkLink(body []byte) error {
	o, err := decodeObject(body, "")
	if err != nil {
		return err
	}
	if _, err := o.checkReference("referenceId"); err != nil {
		return err
	}
	if email, err := o.required("email", ""); err != nil {
		return err
	} else if !validEmail(email) {
		return badRequest("email is not a valid email address")
	}
	if _, err := o.required("name", ""); err != nil {
		return err
	}
	if err := o.checkLocale("locale", ""); err != nil {
		return err
	}
	if _, _, err := o.strs("tags", ""); err != nil {
		return err
	}
	if _, err := o.str("locationId", ""); err != nil {
		return err
	}
	return o.checkRedirect("")
}

// handleDeleteData deletes the business unit's invitations to the given emails, or
// those accepted before a date: exactly one of customerEmails and deleteOlderThan.
// It answers 200 with an empty body.
func (s *Server) handleDeleteData(w http.ResponseWriter, r *http.Request, c call) {
	body := readJSONBody(w, r)
	if body == nil {
		return
	}
	match, err := parseDeletion(body)
	if err != nil {
		writeInvalid(w, err)
		return
	}
	s.mu.Lock()
	s.advanceLocked()
	s.store.remove(func(inv *Invitation) bool { return inv.BusinessUnitID == c.unit.ID && match(inv) })
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// parseDeletion validates a delete request and returns which invitations it names.
func parseDeletion(body []byte) (func(*Invitation) bool, error) {
	o, err := decodeObject(body, "")
	if err != nil {
		return nil, err
	}
	emails, hasEmails, err := o.strs("customerEmails", "")
	if err != nil {
		return nil, err
	}
	olderThan, err := o.str("deleteOlderThan", "")
	if err != nil {
		return nil, err
	}
	switch {
	case hasEmails && olderThan != "":
		return nil, badRequest("give either customerEmails or deleteOlderThan, not both")
	case !hasEmails && olderThan == "":
		return nil, badRequest("one of customerEmails or deleteOlderThan is required")
	case hasEmails && len(emails) == 0:
		return nil, badRequest("customerEmails is empty")
	case hasEmails:
		set := map[string]bool{}
		for _, e := range emails {
			set[strings.ToLower(strings.TrimSpace(e))] = true
		}
		return func(inv *Invitation) bool { return set[strings.ToLower(inv.ConsumerEmail)] }, nil
	}
	before, err := time.Parse(time.DateOnly, olderThan)
	if err != nil {
		if before, err = parseSendTime(olderThan, "deleteOlderThan"); err != nil {
			return nil, badRequest("deleteOlderThan must be a date like 2024-01-31 or a UTC time like 2024-01-31T00:00:00")
		}
	}
	return func(inv *Invitation) bool { return inv.CreatedAt.Before(before) }, nil
}

// businessUnitFound is the business-unit lookup's answer.
type businessUnitFound struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Name        struct {
		Identifying string   `json:"identifying"`
		Referring   []string `json:"referring"`
	} `json:"name"`
	WebsiteURL string `json:"websiteUrl"`
}

// handleFind finds a business unit by its domain: header (or query parameter) apikey
// must be a configured API key (else 401); an unknown name gets 404.
func (s *Server) handleFind(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("apikey")
	if key == "" {
		key = r.URL.Query().Get("apikey")
	}
	if _, ok := s.secrets[key]; !ok {
		writeGatewayFault(w, http.StatusUnauthorized, "Invalid ApiKey", "oauth.v2.InvalidApiKey")
		return
	}
	name := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("name")))
	if name == "" {
		writeMessage(w, http.StatusBadRequest, "name is required", 0)
		return
	}
	for _, bu := range s.cfg.BusinessUnits {
		if bu.Domain == name {
			found := businessUnitFound{ID: bu.ID, DisplayName: bu.displayName(), WebsiteURL: "https://" + bu.Domain}
			found.Name.Identifying, found.Name.Referring = bu.Domain, []string{bu.Domain}
			writeJSON(w, http.StatusOK, found)
			return
		}
	}
	writeMessage(w, http.StatusNotFound, "Business unit not found", 0)
}
