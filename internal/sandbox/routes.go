package sandbox

import (
	"bytes"
	"net/http"
	"time"
)

// Path classes: how Stats.Calls groups the calls.
const (
	ClassToken       = "token"
	ClassFind        = "business-unit-find"
	ClassInvitations = "email-invitations"
	ClassTemplates   = "templates"
	ClassLinks       = "invitation-links"
	ClassDeleteData  = "invitation-data-delete"
	ClassUnknownPath = "unknown"
)

const (
	tokenPathPrefix    = "/v1/oauth/oauth-business-users-for-applications/"
	privatePathPrefix  = "/v1/private/business-units/{businessUnitId}/"
	businessUnitIDPath = "businessUnitId"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// api host
	s.handle(mux, tokenPathPrefix+"accesstoken", ClassToken, http.MethodPost, s.handleToken(false))
	s.handle(mux, tokenPathPrefix+"refresh", ClassToken, http.MethodPost, s.handleToken(true))
	s.handle(mux, "/v1/business-units/find", ClassFind, http.MethodGet, s.handleFind)
	// invitations host
	s.handle(mux, privatePathPrefix+"email-invitations", ClassInvitations, http.MethodPost, s.private(s.handleCreateInvitation))
	s.handle(mux, privatePathPrefix+"templates", ClassTemplates, http.MethodGet, s.private(s.handleTemplates))
	s.handle(mux, privatePathPrefix+"invitation-links", ClassLinks, http.MethodPost, s.private(s.handleLinks))
	s.handle(mux, privatePathPrefix+"invitation-data/delete", ClassDeleteData, http.MethodPost, s.private(s.handleDeleteData))
	s.handle(mux, "/", ClassUnknownPath, "", func(w http.ResponseWriter, _ *http.Request) {
		writeMessage(w, http.StatusNotFound, "Not found", 0)
	})
	// sandbox's own endpoints: not counted, not faulted
	mux.HandleFunc("GET /{$}", s.handleHistory)
	mux.HandleFunc("GET /_sandbox/invitations", s.handleListInvitations)
	mux.HandleFunc("GET /_sandbox/stats", s.handleStats)
	mux.HandleFunc("POST /_sandbox/reset", s.handleReset)
	mux.HandleFunc("GET /_sandbox/faults", s.handleGetFaults)
	mux.HandleFunc("PUT /_sandbox/faults", s.handlePutFaults)
	return mux
}

// handle registers an API endpoint: it answers 405 to another method than method
// ("" allows all), counts every answer by class and status, and logs it.
func (s *Server) handle(mux *http.ServeMux, pattern, class, method string, h http.HandlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			// also runs when a timeout fault aborts the request: status 0
			s.mu.Lock()
			s.stats.call(class, sw.status)
			s.mu.Unlock()
			s.log.Info().Str("method", r.Method).Str("path", r.URL.Path).Str("class", class).
				Int("status", sw.status).Dur("duration", time.Since(start)).Msg("request")
		}()
		if method != "" && r.Method != method {
			sw.Header().Set("Allow", method)
			writeMessage(sw, http.StatusMethodNotAllowed, "Method not allowed", 0)
			return
		}
		h(sw, r)
	})
}

// statusWriter remembers the status of the answer; 0 means none was written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// call is an invitation-host call that passed the gateway.
type call struct {
	token *token
	unit  BusinessUnit
}

// privateHandler serves an invitation-host call for a known business unit, made with
// a valid token, within the rate limit.
type privateHandler func(w http.ResponseWriter, r *http.Request, c call)

// private puts h behind the gateway of the invitations host, which answers in this
// order: latency; 401 bad token; 429 rate limit; a forced status of the business
// unit; a random fault; 403 errorCode 1014 for a client_credentials token without a
// configured x-business-user-id; 404 unknown business unit.
func (s *Server) private(h privateHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		delay := s.faults.latency()
		s.mu.Unlock()
		if !s.wait(r, delay) {
			panic(http.ErrAbortHandler)
		}
		c, fault, ok := s.gate(w, r)
		if !ok {
			return
		}
		switch {
		case fault == "":
			h(w, r, c)
		case fault.accepts():
			rec := &recorder{header: http.Header{}}
			h(rec, r, c)
			if rec.status >= 200 && rec.status < 300 {
				s.writeFault(w, r, fault)
				return
			}
			rec.copyTo(w)
		default:
			s.writeFault(w, r, fault)
		}
	}
}

// gate runs the gateway's checks. It returns ok=false when it has answered; a fault
// drawn for the call is returned for the caller to inject outside the lock.
func (s *Server) gate(w http.ResponseWriter, r *http.Request) (call, FaultKind, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	tok := s.authenticate(w, r, now)
	if tok == nil {
		return call{}, "", false
	}
	lim := s.keyLimits(tok.apiKey)
	lim.seen.add(now)
	if ok, wait := lim.admitted.admit(now); !ok {
		if s.cfg.RetryAfter {
			w.Header().Set("Retry-After", retryAfterSeconds(wait))
		}
		writeRateLimited(w)
		return call{}, "", false
	}
	id := r.PathValue(businessUnitIDPath)
	if forced, ok := s.faults.Forced[id]; ok {
		msg := forced.Message
		switch {
		case msg != "":
		case forced.ErrorCode == errorCodeForbidden:
			msg = "Access to resource is forbidden"
		default:
			msg = http.StatusText(forced.Status)
		}
		writeMessage(w, forced.Status, msg, forced.ErrorCode)
		return call{}, "", false
	}
	fault := s.faults.draw()
	if fault != "" && !fault.accepts() {
		return call{}, fault, true
	}
	if tok.grant == grantClientCredentials && len(s.businessUsers) > 0 && !s.businessUsers[r.Header.Get("x-business-user-id")] {
		writeMessage(w, http.StatusForbidden, "Access to resource is forbidden", errorCodeForbidden)
		return call{}, "", false
	}
	unit, ok := s.units[id]
	if !ok {
		writeMessage(w, http.StatusNotFound, "Business unit not found", 0)
		return call{}, "", false
	}
	return call{token: tok, unit: unit}, fault, true
}

// keyLimits returns the rate-limit windows of an API key. The caller holds s.mu.
func (s *Server) keyLimits(key string) *keyLimits {
	lim, ok := s.limits[key]
	if !ok {
		lim = &keyLimits{admitted: newWindows(s.cfg.RateLimits), seen: newWindows(s.cfg.RateLimits)}
		s.limits[key] = lim
	}
	return lim
}

// recorder holds an answer so an accept-then-fail fault can replace a success.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// copyTo sends the held answer.
func (r *recorder) copyTo(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body.Bytes())
}
