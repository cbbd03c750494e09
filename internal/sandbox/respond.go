package sandbox

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
)

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// apiMessage is the error body of the invitations API.
type apiMessage struct {
	Message       string `json:"message"`
	ErrorCode     int    `json:"errorCode"`
	CorrelationID string `json:"correlationId"`
}

// errorCodeForbidden is the errorCode Trustpilot gives a wrong x-business-user-id. It is
// the only errorCode known from the real API; every other error here carries 0.
const errorCodeForbidden = 1014

// writeMessage answers status with {"message","errorCode","correlationId"}.
func writeMessage(w http.ResponseWriter, status int, message string, code int) {
	writeJSON(w, status, apiMessage{Message: message, ErrorCode: code, CorrelationID: newID()})
}

// writeGatewayFault answers status with the API gateway's
// {"fault":{"faultstring":...,"detail":{"errorcode":...}}}.
func writeGatewayFault(w http.ResponseWriter, status int, faultstring, errorcode string) {
	type detail struct {
		ErrorCode string `json:"errorcode"`
	}
	type fault struct {
		FaultString string `json:"faultstring"`
		Detail      detail `json:"detail"`
	}
	writeJSON(w, status, struct {
		Fault fault `json:"fault"`
	}{fault{faultstring, detail{errorcode}}})
}

// writeOAuthError answers status with the token endpoint's {"ErrorCode","Error"}.
func writeOAuthError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, struct {
		ErrorCode string `json:"ErrorCode"`
		Error     string `json:"Error"`
	}{code, message})
}

// writeRateLimited answers 429 like the gateway's quota policy.
func writeRateLimited(w http.ResponseWriter) {
	writeGatewayFault(w, http.StatusTooManyRequests, "Rate limit quota violation. Quota limit exceeded", "policies.ratelimit.QuotaViolation")
}

// newID returns a random UUID (version 4), used for invitation and correlation ids.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
