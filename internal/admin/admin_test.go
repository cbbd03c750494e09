package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name     string
		kafka    error
		redis    error
		drain    bool
		paused   []string
		wantCode int
		wantBody readiness
	}{
		{name: "all good", wantCode: 200, wantBody: readiness{Ready: true, Checks: map[string]string{"kafka": "ok", "redis": "ok"}, Paused: []string{}}},
		{name: "redis down", redis: errors.New("dial tcp: connection refused"), wantCode: 503,
			wantBody: readiness{Checks: map[string]string{"kafka": "ok", "redis": "dial tcp: connection refused"}, Paused: []string{}}},
		{name: "draining", drain: true, wantCode: 503, wantBody: readiness{Draining: true, Checks: map[string]string{"kafka": "ok", "redis": "ok"}, Paused: []string{}}},
		{name: "paused destination is reported, not fatal", paused: []string{"shop-us", "shop-eu"}, wantCode: 200,
			wantBody: readiness{Ready: true, Checks: map[string]string{"kafka": "ok", "redis": "ok"}, Paused: []string{"shop-eu", "shop-us"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New("127.0.0.1:0", prometheus.NewRegistry())
			s.AddCheck("kafka", func(context.Context) error { return tt.kafka })
			s.AddCheck("redis", func(context.Context) error { return tt.redis })
			s.SetPaused(func() []string { return tt.paused })
			if tt.drain {
				s.Drain()
			}
			code, body := get(t, s.Handler(), "/readyz")
			if code != tt.wantCode {
				t.Errorf("code = %d, want %d", code, tt.wantCode)
			}
			var got readiness
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(tt.wantBody)
			if string(gb) != string(wb) {
				t.Errorf("body = %s, want %s", gb, wb)
			}
		})
	}
}

func TestLivezIgnoresDependencies(t *testing.T) {
	s := New("127.0.0.1:0", prometheus.NewRegistry())
	s.AddCheck("redis", func(context.Context) error { return errors.New("down") })
	if code, _ := get(t, s.Handler(), "/livez"); code != 200 {
		t.Errorf("/livez = %d with a failing dependency, want 200", code)
	}
}

func TestMetricsServesTheRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "invitepipe_commits_total", Help: "x"})
	reg.MustRegister(c)
	c.Add(3)
	code, body := get(t, New("127.0.0.1:0", reg).Handler(), "/metrics")
	if code != 200 || !strings.Contains(body, "invitepipe_commits_total 3") {
		t.Errorf("/metrics = %d %q", code, body)
	}
}
