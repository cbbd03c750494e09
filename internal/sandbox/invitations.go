package sandbox

import (
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/invitepipe/invitepipe/internal/logging"
)

// maxBodyBytes bounds a request body the sandbox reads.
const maxBodyBytes = 1 << 20

// readJSONBody checks the Content-Type (415 unless application/json) and reads the
// body (400 if unreadable or over 1 MiB). It returns nil after answering.
func readJSONBody(w http.ResponseWriter, r *http.Request) []byte {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeMessage(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json", 0)
		return nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "The request body could not be read", 0)
		return nil
	}
	return body
}

// writeInvalid answers a badRequest with 400; any other error is the sandbox's bug.
func writeInvalid(w http.ResponseWriter, err error) {
	var bad badRequest
	if errors.As(err, &bad) {
		writeMessage(w, http.StatusBadRequest, bad.Error(), 0)
		return
	}
	writeMessage(w, http.StatusInternalServerError, "sandbox error: "+err.Error(), 0)
}

// handleCreateInvitation accepts one email invitation: 202 with an empty body, the
// invitation queued as notsent until its send time.
func (s *Server) handleCreateInvitation(w http.ResponseWriter, r *http.Request, c call) {
	body := readJSONBody(w, r)
	if body == nil {
		return
	}
	s.mu.Lock()
	now := s.now()
	parsed, err := parseInvitation(body, now.Add(s.cfg.SendDelay))
	if err != nil {
		s.mu.Unlock()
		writeInvalid(w, err)
		return
	}
	s.advanceLocked()
	inv := Invitation{
		ID:              newID(),
		BusinessUnitID:  c.unit.ID,
		ReferenceNumber: parsed.reference,
		ConsumerEmail:   parsed.email,
		ConsumerName:    parsed.name,
		Type:            parsed.kind,
		Status:          StatusNotSent,
		CreatedAt:       now,
		SendAt:          parsed.sendAt,
		APIKey:          c.token.apiKey,
		Body:            body,
	}
	s.store.add(inv)
	s.stats.invitationAccepted(inv.BusinessUnitID, inv.ReferenceNumber)
	s.mu.Unlock()

	s.log.Info().Str("business_unit", inv.BusinessUnitID).Str("reference", inv.ReferenceNumber).
		Str("email", logging.MaskEmail(inv.ConsumerEmail)).Str("invitation", inv.ID).Time("send_at", inv.SendAt).
		Msg("invitation accepted")
	w.WriteHeader(http.StatusAccepted)
}
