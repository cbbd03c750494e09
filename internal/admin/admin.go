package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// checkTimeout bounds one readiness check.
const checkTimeout = 2 * time.Second

// Server is the admin HTTP server.
type Server struct {
	srv      *http.Server
	draining atomic.Bool

	mu     sync.Mutex
	checks map[string]func(context.Context) error
	paused func() []string
}

// New returns a server for addr exposing reg on /metrics.
func New(addr string, reg *prometheus.Registry) *Server {
	s := &Server{checks: map[string]func(context.Context) error{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", s.livez)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	s.srv = &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return s
}

// Handler is the server's HTTP handler, for tests.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// AddCheck adds a readiness check; fn gets a context bounded to a couple of seconds.
func (s *Server) AddCheck(name string, fn func(context.Context) error) {
	s.mu.Lock()
	s.checks[name] = fn
	s.mu.Unlock()
}

// SetPaused sets the source of the paused destinations that /readyz lists.
func (s *Server) SetPaused(fn func() []string) {
	s.mu.Lock()
	s.paused = fn
	s.mu.Unlock()
}

// Drain makes /readyz answer 503 from now on.
func (s *Server) Drain() { s.draining.Store(true) }

// Serve listens on the server's address until ctx ends, then shuts down gracefully. It
// returns the listener's error, or nil after ctx ended.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(shutdown)
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

// Listen opens the server's address.
func (s *Server) Listen() (net.Listener, error) {
	return net.Listen("tcp", s.srv.Addr)
}

// livez answers 200 while the process serves: a wedged consumer stops itself (the
// watchdog), and its dependencies are /readyz's concern.
func (s *Server) livez(w http.ResponseWriter, _ *http.Request) {
	_, _ = w.Write([]byte("ok\n"))
}

// readiness is /readyz's body.
type readiness struct {
	Ready    bool              `json:"ready"`
	Draining bool              `json:"draining,omitempty"`
	Checks   map[string]string `json:"checks"`
	Paused   []string          `json:"paused_destinations"`
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	checks := make(map[string]func(context.Context) error, len(s.checks))
	for k, v := range s.checks {
		checks[k] = v
	}
	paused := s.paused
	s.mu.Unlock()

	body := readiness{Ready: !s.draining.Load(), Draining: s.draining.Load(), Checks: map[string]string{}, Paused: []string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, fn := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
			defer cancel()
			result := "ok"
			if err := fn(ctx); err != nil {
				result = err.Error()
			}
			mu.Lock()
			defer mu.Unlock()
			body.Checks[name] = result
			if result != "ok" {
				body.Ready = false
			}
		})
	}
	wg.Wait()
	if paused != nil {
		body.Paused = append(body.Paused, paused()...)
		sort.Strings(body.Paused)
	}
	w.Header().Set("Content-Type", "application/json")
	if !body.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(body)
}
