package sandbox

import (
	"net/http"
	"testing"
	"time"
)

func TestWindowsAdmit(t *testing.T) {
	// step is one event: its offset from start and whether it must be admitted
	type step struct {
		at time.Duration
		ok bool
	}
	// two windows: 3 per 10 s and 4 per minute
	tests := []struct {
		name     string
		steps    []step
		wantWait time.Duration // of the last (refused) step
	}{
		{"three in ten seconds, fourth refused", []step{{0, true}, {1 * time.Second, true}, {2 * time.Second, true}, {9 * time.Second, false}}, 1 * time.Second},
		{"an event exactly one window old has left", []step{{0, true}, {1 * time.Second, true}, {2 * time.Second, true}, {10 * time.Second, true}, {10 * time.Second, false}}, 50 * time.Second},
		{"the longer window binds", []step{{0, true}, {11 * time.Second, true}, {22 * time.Second, true}, {33 * time.Second, true}, {44 * time.Second, false}}, 16 * time.Second},
		{"refused events do not count", []step{{0, true}, {0, true}, {0, true}, {5 * time.Second, false}, {5 * time.Second, false}, {10 * time.Second, true}, {10 * time.Second, false}}, 50 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := newWindows([]RateWindow{{3, 10 * time.Second}, {4, time.Minute}, {}})
			if len(ws) != 2 {
				t.Fatalf("%d windows, want 2 (a zero limit is no window)", len(ws))
			}
			var wait time.Duration
			for i, st := range tt.steps {
				var ok bool
				ok, wait = ws.admit(start.Add(st.at))
				if ok != st.ok {
					t.Fatalf("step %d at +%s: admitted %v, want %v", i, st.at, ok, st.ok)
				}
			}
			if wait != tt.wantWait {
				t.Fatalf("wait = %s, want %s", wait, tt.wantWait)
			}
		})
	}
}

func TestWindowPeak(t *testing.T) {
	w := &window{RateWindow: RateWindow{Limit: 1, Window: 10 * time.Second}}
	for _, at := range []time.Duration{0, 4 * time.Second, 9 * time.Second, 19 * time.Second, 25 * time.Second} {
		w.add(start.Add(at))
	}
	if w.peak != 3 {
		t.Fatalf("peak = %d, want 3 (the events at 0, 4 and 9 s)", w.peak)
	}
}

func TestRateLimitOverHTTP(t *testing.T) {
	tests := []struct {
		name           string
		retryAfter     bool
		wantRetryAfter string
	}{{"like the real API", false, ""}, {"with Retry-After", true, "3"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) {
				c.RateLimits = []RateWindow{{Limit: 3, Window: 10 * time.Second}, {Limit: 5, Window: time.Minute}}
				c.RetryAfter = tt.retryAfter
			})
			tok := e.token()
			call := func(body string) response {
				t.Helper()
				return e.invite(tok, body)
			}
			// three calls in 10 s; a 400 counts like a 202
			for i, body := range []string{invitation("a@example.com", "1"), `{}`, invitation("a@example.com", "3")} {
				if r := call(body); r.status == http.StatusTooManyRequests {
					t.Fatalf("call %d refused with 429", i+1)
				}
				e.clock.Advance(2500 * time.Millisecond)
			}
			// now +7.5 s: the window (−2.5 s, 7.5 s] is full until the first call leaves at +10 s
			r := call(invitation("a@example.com", "4"))
			if r.status != http.StatusTooManyRequests {
				t.Fatalf("4th call in 10 s: status %d, want 429", r.status)
			}
			gatewayFault(t, r)
			if got := r.header.Get("Retry-After"); got != tt.wantRetryAfter {
				t.Fatalf("Retry-After = %q, want %q", got, tt.wantRetryAfter)
			}
			e.clock.Advance(2500 * time.Millisecond) // +10 s
			if r := call(invitation("a@example.com", "5")); r.status != http.StatusAccepted {
				t.Fatalf("call once the first left the window: status %d (%s)", r.status, r.body)
			}
			if got := len(e.sb.Invitations("", "")); got != 3 {
				t.Fatalf("%d invitations recorded, want 3 (the 400 and the 429 record none)", got)
			}
			peaks := e.sb.Stats().RateWindows[DefaultAPIKey]
			want := []WindowPeak{{RateWindow{3, 10 * time.Second}, 4}, {RateWindow{5, time.Minute}, 5}}
			if len(peaks) != 2 || peaks[0] != want[0] || peaks[1] != want[1] {
				t.Fatalf("peaks %+v, want %+v (the refused call is seen)", peaks, want)
			}
		})
	}
}

func TestRateLimitDisabled(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RateLimits = nil })
	tok := e.token()
	for i := range 50 {
		if r := e.invite(tok, invitation("a@example.com", "R")); r.status != http.StatusAccepted {
			t.Fatalf("call %d: status %d", i, r.status)
		}
	}
	if peaks := e.sb.Stats().RateWindows[DefaultAPIKey]; len(peaks) != 0 {
		t.Fatalf("peaks %+v without rate limits", peaks)
	}
}
