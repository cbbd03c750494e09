package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"
)

// FaultKind names one kind of injected failure of an invitation-host call.
type FaultKind string

// The fault kinds. Each answers with one status and one body shape, all seen from the
// real API. Only the Accept* kinds let the call take effect (an invitation is recorded)
// before failing: that is the ambiguity a client must survive (did it send or not?).
const (
	// Fault500 answers 500 {"message","errorCode","correlationId"}.
	Fault500 FaultKind = "500"
	// Fault500Legacy answers 500 {"fault":{"faultstring":...}} (the older gateway shape).
	Fault500Legacy FaultKind = "500fault"
	// Fault503 answers 503 {"fault":{"faultstring":"The Service is temporarily unavailable",...}}.
	Fault503 FaultKind = "503"
	// Fault520 answers 520 with an empty body (CloudFront, origin error).
	Fault520 FaultKind = "520"
	// Fault403HTML answers 403 with a CloudFront HTML page (Content-Type text/html).
	Fault403HTML FaultKind = "403html"
	// Fault429 answers 429 like the rate limit does, without consuming the budget.
	Fault429 FaultKind = "429"
	// FaultTimeout never answers: the request is held until the client gives up or the
	// server closes, then the connection is dropped.
	FaultTimeout FaultKind = "timeout"
	// FaultAcceptThen500 processes the call normally; if it succeeded (the invitation is
	// recorded), the answer is replaced by Fault500's.
	FaultAcceptThen500 FaultKind = "accept+500"
	// FaultAcceptThenTimeout processes the call normally; if it succeeded, the answer is
	// replaced by FaultTimeout's silence.
	FaultAcceptThenTimeout FaultKind = "accept+timeout"
)

// faultKinds lists the kinds in the order a random draw walks them.
var faultKinds = []FaultKind{
	Fault500, Fault500Legacy, Fault503, Fault520, Fault403HTML, Fault429,
	FaultTimeout, FaultAcceptThen500, FaultAcceptThenTimeout,
}

// accepts reports whether the call takes effect before the fault answers.
func (k FaultKind) accepts() bool { return k == FaultAcceptThen500 || k == FaultAcceptThenTimeout }

// Faults are the failures injected into invitation-host calls (email invitations,
// templates, invitation links, delete invitation data). Token and business-unit lookup
// calls are never faulted. They are set by Config.Faults and replaced at runtime by
// Server.SetFaults or PUT /_sandbox/faults.
type Faults struct {
	// LatencyMin and LatencyMax delay every invitation-host call by a duration drawn
	// uniformly in [LatencyMin, LatencyMax], in real time (not the injected clock).
	// Default 0; equal values give a fixed delay.
	LatencyMin time.Duration
	LatencyMax time.Duration
	// Rates is the probability (0..1) of each fault kind per call; the sum is at most 1.
	// Default: none.
	Rates map[FaultKind]float64
	// Forced answers every invitation-host call for a business unit id with a fixed
	// status until removed, e.g. 403 errorCode 1014 to simulate a broken destination.
	// Such calls never take effect.
	Forced map[string]ForcedStatus
}

// ForcedStatus is the answer forced on a business unit's calls: Status with the body
// {"message":Message,"errorCode":ErrorCode,"correlationId":...}.
type ForcedStatus struct {
	Status    int    `json:"status"`
	ErrorCode int    `json:"errorCode"`
	Message   string `json:"message,omitempty"`
}

// faultsJSON is the wire form of Faults: durations as Go duration strings.
type faultsJSON struct {
	LatencyMin string                  `json:"latencyMin"`
	LatencyMax string                  `json:"latencyMax"`
	Rates      map[FaultKind]float64   `json:"rates"`
	Forced     map[string]ForcedStatus `json:"forced"`
}

// MarshalJSON writes {"latencyMin":"0s","latencyMax":"0s","rates":{...},"forced":{...}}.
func (f Faults) MarshalJSON() ([]byte, error) {
	w := faultsJSON{
		LatencyMin: f.LatencyMin.String(),
		LatencyMax: f.LatencyMax.String(),
		Rates:      f.Rates,
		Forced:     f.Forced,
	}
	if w.Rates == nil {
		w.Rates = map[FaultKind]float64{}
	}
	if w.Forced == nil {
		w.Forced = map[string]ForcedStatus{}
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the form MarshalJSON writes; absent fields are zero and unknown
// fields are an error, so a typo cannot silently disable a fault.
func (f *Faults) UnmarshalJSON(data []byte) error {
	var w faultsJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return fmt.Errorf("%w: faults: %w", ErrInvalidConfig, err)
	}
	var out Faults
	for _, d := range []struct {
		text string
		dst  *time.Duration
		name string
	}{{w.LatencyMin, &out.LatencyMin, "latencyMin"}, {w.LatencyMax, &out.LatencyMax, "latencyMax"}} {
		if d.text == "" {
			continue
		}
		v, err := time.ParseDuration(d.text)
		if err != nil {
			return fmt.Errorf("%w: faults: %s: %w", ErrInvalidConfig, d.name, err)
		}
		*d.dst = v
	}
	out.Rates, out.Forced = w.Rates, w.Forced
	*f = out
	return nil
}

// clone returns a copy that shares no map with f.
func (f Faults) clone() Faults {
	f.Rates = maps.Clone(f.Rates)
	f.Forced = maps.Clone(f.Forced)
	return f
}

// validate checks f; units are the known business unit ids (Forced must name one).
func (f Faults) validate(units map[string]bool) error {
	var errs []error
	if f.LatencyMin < 0 || f.LatencyMax < f.LatencyMin {
		errs = append(errs, fmt.Errorf("latency %s..%s: want 0 <= LatencyMin <= LatencyMax", f.LatencyMin, f.LatencyMax))
	}
	sum := 0.0
	for _, k := range slices.Sorted(maps.Keys(f.Rates)) {
		r := f.Rates[k]
		if !slices.Contains(faultKinds, k) {
			errs = append(errs, fmt.Errorf("unknown fault kind %q: use one of %v", k, faultKinds))
		}
		if r < 0 || r > 1 {
			errs = append(errs, fmt.Errorf("rate of %q is %v: want 0..1", k, r))
		}
		sum += r
	}
	if sum > 1+1e-9 {
		errs = append(errs, fmt.Errorf("fault rates add up to %v: want at most 1", sum))
	}
	for _, bu := range slices.Sorted(maps.Keys(f.Forced)) {
		fs := f.Forced[bu]
		if !units[bu] {
			errs = append(errs, fmt.Errorf("forced status for unknown business unit %q: name a configured one", bu))
		}
		if fs.Status < 400 || fs.Status > 599 {
			errs = append(errs, fmt.Errorf("forced status %d for %q: want 400..599", fs.Status, bu))
		}
	}
	return errors.Join(errs...)
}

// latency draws one delay.
func (f Faults) latency() time.Duration {
	if f.LatencyMax <= f.LatencyMin {
		return f.LatencyMin
	}
	return f.LatencyMin + rand.N(f.LatencyMax-f.LatencyMin+1)
}

// draw picks the fault of one call, or "" for none.
func (f Faults) draw() FaultKind {
	if len(f.Rates) == 0 {
		return ""
	}
	x, cum := rand.Float64(), 0.0
	for _, k := range faultKinds {
		cum += f.Rates[k]
		if x < cum {
			return k
		}
	}
	return ""
}

// cloudFront403 is the page CloudFront serves when it blocks a request.
const cloudFront403 = `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">
<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=iso-8859-1">
<TITLE>ERROR: The request could not be satisfied</TITLE>
</HEAD><BODY>
<H1>403 ERROR</H1>
<H2>The request could not be satisfied.</H2>
<HR noshade size="1px">
Request blocked.
We can't connect to the server for this app or website at this time. There might be too much traffic or a configuration error. Try again later, or contact the app or website owner.
<BR clear="all">
<HR noshade size="1px">
<PRE>
Generated by cloudfront (CloudFront)
Request ID: %s
</PRE>
<ADDRESS>
</ADDRESS>
</BODY></HTML>`

// writeFault answers with the failure of kind k. FaultTimeout and
// FaultAcceptThenTimeout never return: they hold the request and then abort it.
func (s *Server) writeFault(w http.ResponseWriter, r *http.Request, k FaultKind) {
	switch k {
	case Fault500, FaultAcceptThen500:
		writeMessage(w, http.StatusInternalServerError, "Internal server error. Please try again in 5-15 minutes", 0)
	case Fault500Legacy:
		writeGatewayFault(w, http.StatusInternalServerError, "Internal Server Error", "messaging.adaptors.http.flow.InternalServerError")
	case Fault503:
		writeGatewayFault(w, http.StatusServiceUnavailable, "The Service is temporarily unavailable", "messaging.adaptors.http.flow.ServiceUnavailable")
	case Fault520:
		w.WriteHeader(520)
	case Fault403HTML:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, cloudFront403, newID())
	case Fault429:
		if s.cfg.RetryAfter {
			w.Header().Set("Retry-After", "1")
		}
		writeRateLimited(w)
	case FaultTimeout, FaultAcceptThenTimeout:
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		panic(http.ErrAbortHandler)
	}
}
