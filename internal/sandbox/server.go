package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// shutdownBudget bounds how long a graceful shutdown waits for requests in flight.
const shutdownBudget = 5 * time.Second

// Server is a running sandbox: its state and its HTTP handler. It is safe for
// concurrent use.
type Server struct {
	cfg     Config
	now     func() time.Time
	log     zerolog.Logger
	handler http.Handler
	// closed is closed by Close: held requests (timeout faults, latency) end at once.
	closed    chan struct{}
	closeOnce sync.Once

	// Indexes of cfg, read-only after New.
	secrets       map[string]string // API key -> secret
	passwords     map[string]string // username -> password
	units         map[string]BusinessUnit
	businessUsers map[string]bool

	mu            sync.Mutex
	faults        Faults // replaced whole, never changed in place
	accessTokens  map[string]*token
	refreshTokens map[string]*token
	mints         map[string]windows    // API key -> token mints
	limits        map[string]*keyLimits // API key -> invitation-host calls
	store         store
	stats         counters
}

// keyLimits are the rate-limit windows of one API key.
type keyLimits struct {
	admitted windows // calls let through: what the limit counts
	seen     windows // every authenticated call, 429s included: what the stats report
}

// Option changes how New builds a Server.
type Option func(*Server)

// WithClock makes the sandbox read time from now instead of time.Now: token expiry,
// rate and mint limits, send times and the frequency rule follow it. Latency faults
// always wait in real time.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithLogger logs one line per API request (never secrets, tokens or whole emails).
// Default: no logging.
func WithLogger(l zerolog.Logger) Option { return func(s *Server) { s.log = l } }

// New validates cfg and returns a sandbox in its start state.
func New(cfg Config, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:           cfg,
		now:           time.Now,
		log:           zerolog.Nop(),
		closed:        make(chan struct{}),
		secrets:       map[string]string{},
		passwords:     map[string]string{},
		units:         map[string]BusinessUnit{},
		businessUsers: map[string]bool{},
		accessTokens:  map[string]*token{},
		refreshTokens: map[string]*token{},
	}
	for _, c := range cfg.Credentials {
		s.secrets[c.APIKey] = c.APISecret
	}
	for _, u := range cfg.Users {
		s.passwords[u.Username] = u.Password
	}
	for _, bu := range cfg.BusinessUnits {
		s.units[bu.ID] = bu
	}
	for _, id := range cfg.BusinessUsers {
		s.businessUsers[id] = true
	}
	for _, opt := range opts {
		opt(s)
	}
	s.resetLocked()
	s.handler = s.routes()
	return s, nil
}

// Handler returns the sandbox's HTTP handler, e.g. for httptest.NewServer.
func (s *Server) Handler() http.Handler { return s.handler }

// ListenAndServe listens on Config.Addr and serves until ctx is done, then shuts down
// gracefully (see Serve).
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("sandbox: listen on %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done, then closes the Server (releasing held
// requests) and waits up to 5 s for requests in flight. It returns nil after a clean
// shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("sandbox: serve: %w", err)
	case <-ctx.Done():
	}
	s.Close()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("sandbox: shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("sandbox: serve: %w", err)
	}
	return nil
}

// Close releases every request held by a timeout fault or a latency, and makes later
// ones end at once (with a dropped connection). Call it before httptest.Server.Close
// in tests that inject timeouts. It is idempotent.
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.closed) }) }

// Reset brings the sandbox back to its start state: no invitations, zero statistics,
// empty mint and rate-limit windows, Config.Faults. Issued tokens stay valid.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

func (s *Server) resetLocked() {
	s.faults = s.cfg.Faults.clone()
	s.mints = map[string]windows{}
	s.limits = map[string]*keyLimits{}
	s.store = newStore()
	s.stats = newCounters()
}

// Faults returns the faults in force.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.clone()
}

// SetFaults replaces the faults in force, or returns an error wrapping
// ErrInvalidConfig and changes nothing.
func (s *Server) SetFaults(f Faults) error {
	units := map[string]bool{}
	for id := range s.units {
		units[id] = true
	}
	if err := f.validate(units); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f.clone()
	return nil
}

// Invitations returns the accepted invitations, oldest first, filtered by business
// unit id and reference number ("" matches all), with their status at the clock's now.
func (s *Server) Invitations(businessUnitID, reference string) []Invitation {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked()
	return s.store.list(businessUnitID, reference)
}

// advanceLocked sends the invitations due now. The caller holds s.mu.
func (s *Server) advanceLocked() {
	s.store.advance(s.now(), time.Duration(s.cfg.FrequencyDays)*24*time.Hour)
}

// wait pauses for d in real time; it returns false if the client gave up or the
// server closed first.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.closed:
	}
	return false
}
