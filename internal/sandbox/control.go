package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
)

// The sandbox's own endpoints under /_sandbox: observe and steer it from tests. They
// are never counted, limited or faulted.

// handleListInvitations answers GET /_sandbox/invitations[?business_unit=ID][&reference=REF]
// with a JSON array of Invitation, oldest first.
func (s *Server) handleListInvitations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	writeJSON(w, http.StatusOK, s.Invitations(q.Get("business_unit"), q.Get("reference")))
}

// handleStats answers GET /_sandbox/stats with Stats.
func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

// handleReset answers POST /_sandbox/reset with 204 after Reset.
func (s *Server) handleReset(w http.ResponseWriter, _ *http.Request) {
	s.Reset()
	w.WriteHeader(http.StatusNoContent)
}

// handleGetFaults answers GET /_sandbox/faults with the Faults in force.
func (s *Server) handleGetFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

// handlePutFaults replaces the faults with the JSON Faults of the body and answers
// them back; an invalid body gets 400 {"message",...} and changes nothing.
func (s *Server) handlePutFaults(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "The request body could not be read", 0)
		return
	}
	var f Faults
	if err := json.Unmarshal(body, &f); err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error(), 0)
		return
	}
	if err := s.SetFaults(f); err != nil {
		writeMessage(w, http.StatusBadRequest, err.Error(), 0)
		return
	}
	writeJSON(w, http.StatusOK, s.Faults())
}
