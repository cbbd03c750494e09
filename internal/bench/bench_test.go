package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/row"
	"github.com/invitepipe/invitepipe/internal/sandbox"
)

// validOptions is a small run that passes Validate.
func validOptions() Options {
	return Options{Rows: 100, Destinations: 2, Activations: 3, Mix: DefaultMix, DuplicateRatio: 0.1, BadRatio: 0.05,
		Partitions: 3, Timeout: time.Minute}
}

func TestValidateNamesTheFlag(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Options)
		want   string // "" = valid
	}{
		{"valid", func(*Options) {}, ""},
		{"no rows", func(o *Options) { o.Rows = 0 }, "--rows 0"},
		{"fewer activations than destinations", func(o *Options) { o.Activations = 1 }, "--activations 1"},
		{"empty mix", func(o *Options) { o.Mix = Mix{} }, "--mix"},
		{"duplicates of 1", func(o *Options) { o.DuplicateRatio = 1 }, "--duplicates 1"},
		{"no valid row left", func(o *Options) { o.DuplicateRatio, o.BadRatio = 0.5, 0.5 }, "leave no valid row"},
		{"negative rate", func(o *Options) { o.Rate = -1 }, "--rate -1"},
		{"processes without a command", func(o *Options) { o.Processes = 2 }, "command that starts one"},
		{"latency min above max", func(o *Options) { o.LatencyMin, o.LatencyMax = time.Second, time.Millisecond }, "--latency-min 1s"},
		{"budget window too short", func(o *Options) { o.Budget = sandbox.RateWindow{Limit: 5, Window: time.Millisecond} }, "--budget 5/1ms"},
		{"no timeout", func(o *Options) { o.Timeout = 0 }, "--timeout"},
		{"contender: one destination, one activation, a process", asContender, ""},
		{"contender in this process", func(o *Options) { asContender(o); o.Processes = 0 }, "--processes 0"},
		{"contender with two destinations", func(o *Options) { asContender(o); o.Destinations, o.Activations = 2, 2 }, "--destinations 2 --activations 2"},
		{"contender with two activations", func(o *Options) { asContender(o); o.Activations = 2 }, "--destinations 1 --activations 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := validOptions()
			tc.change(&o)
			err := o.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want ErrInvalidOptions naming %q", err, tc.want)
			}
		})
	}
}

func TestParseMixAndFaults(t *testing.T) {
	for _, tc := range []struct {
		name, mix, faults string
		wantMix           Mix
		wantFaults        map[sandbox.FaultKind]float64
		wantErr           string
	}{
		{name: "defaults", mix: "service=1,product=1,both=1", faults: "none", wantMix: DefaultMix},
		{name: "a type left out weighs 0", mix: "service=3, both=1", faults: "503=0.01,500=0.005", wantMix: Mix{Service: 3, Both: 1},
			wantFaults: map[sandbox.FaultKind]float64{"503": 0.01, "500": 0.005}},
		{name: "unknown type", mix: "email=1", wantErr: `unknown type "email"`},
		{name: "negative weight", mix: "service=-1", wantErr: "TYPE=WEIGHT"},
		{name: "fault without a rate", mix: "service=1", faults: "503", wantErr: "--faults"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMix(tc.mix)
			var f map[sandbox.FaultKind]float64
			if err == nil {
				f, err = ParseFaults(tc.faults)
			}
			if tc.wantErr != "" {
				if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want ErrInvalidOptions with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || m != tc.wantMix || len(f) != len(tc.wantFaults) {
				t.Fatalf("got %+v %v (%v), want %+v %v", m, f, err, tc.wantMix, tc.wantFaults)
			}
			for k, v := range tc.wantFaults {
				if f[k] != v {
					t.Fatalf("fault %s = %g, want %g", k, f[k], v)
				}
			}
		})
	}
}

func TestMixSpreadsTypesByWeight(t *testing.T) {
	for _, tc := range []struct {
		name string
		mix  Mix
		n    int
		want map[activation.InvitationType]int
	}{
		{"one of each", DefaultMix, 3, map[activation.InvitationType]int{activation.Service: 1, activation.Product: 1, activation.Both: 1}},
		{"two to one", Mix{Service: 2, Product: 1}, 6, map[activation.InvitationType]int{activation.Service: 4, activation.Product: 2}},
		{"only both", Mix{Both: 1}, 4, map[activation.InvitationType]int{activation.Both: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[activation.InvitationType]int{}
			for _, ty := range tc.mix.types(tc.n) {
				got[ty]++
			}
			if len(got) != len(tc.want) {
				t.Fatalf("types %v, want %v", got, tc.want)
			}
			for ty, n := range tc.want {
				if got[ty] != n {
					t.Fatalf("types %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestWorkload checks the plan's counts, that the activation file is one the consumer
// loads, that valid and duplicate rows decode as row messages and that a duplicate
// repeats its original exactly.
func TestWorkload(t *testing.T) {
	o := validOptions()
	o.Budget = sandbox.RateWindow{Limit: 50, Window: time.Second}
	w, err := newWorkload(&o, "run1")
	if err != nil {
		t.Fatal(err)
	}
	if w.valid+w.dups+w.bad != o.Rows || w.dups != 10 || w.bad != 5 {
		t.Fatalf("valid %d, duplicates %d, bad %d: want 85, 10, 5", w.valid, w.dups, w.bad)
	}
	f, err := activation.Parse(w.file)
	if err != nil {
		t.Fatalf("activation file: %v\n%s", err, w.file)
	}
	if len(f.Destinations) != 2 || len(f.Activations) != 3 || f.Destinations[0].RateLimit.Windows[0].Per != time.Second {
		t.Fatalf("activation file: %d destinations, %d activations, rate limit %+v", len(f.Destinations), len(f.Activations), f.Destinations[0].RateLimit)
	}
	if len(w.sandbox.Credentials) != 2 || len(w.sandbox.RateLimits) != 1 {
		t.Fatalf("sandbox: %d credentials, rate limits %v", len(w.sandbox.Credentials), w.sandbox.RateLimits)
	}
	values := make([][]byte, len(w.rows))
	kinds := map[rowKind]int{}
	for k, p := range w.rows {
		m, err := w.message(k, time.Now(), values)
		if err != nil {
			t.Fatal(err)
		}
		kinds[p.kind]++
		_, decodeErr := row.Decode(m.Value)
		switch p.kind {
		case malformedRow:
			if decodeErr == nil {
				t.Fatalf("row %d: a malformed row decodes", k)
			}
		case duplicateRow:
			if !bytes.Equal(m.Value, values[p.of]) || string(m.Key) != w.rows[p.of].activation+"/"+w.rows[p.of].rowID {
				t.Fatalf("row %d does not repeat row %d", k, p.of)
			}
		default:
			if decodeErr != nil {
				t.Fatalf("row %d: %v", k, decodeErr)
			}
		}
	}
	if kinds[malformedRow] == 0 || kinds[invalidEmailRow] == 0 {
		t.Fatalf("bad rows by kind %v: want both kinds", kinds)
	}
}

func TestLatenciesAndSeries(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	emitted := []time.Time{start, start, start.Add(time.Second)}
	invs := []sandbox.Invitation{
		{ReferenceNumber: "r-0", CreatedAt: start.Add(100 * time.Millisecond)},
		{ReferenceNumber: "r-1", CreatedAt: start.Add(300 * time.Millisecond)},
		{ReferenceNumber: "r-2", CreatedAt: start.Add(1500 * time.Millisecond)},
		{ReferenceNumber: "r-2", CreatedAt: start.Add(1900 * time.Millisecond)}, // a duplicate: its first acceptance counts
		{ReferenceNumber: "other-run-1", CreatedAt: start},
	}
	lat, series := latencies(invs, "r", start, start.Add(1900*time.Millisecond), time.Second, emitted)
	if lat.P50 != 300 || lat.P99 != 500 || lat.Max != 500 {
		t.Fatalf("latency %+v, want p50 300, p99 500, max 500", lat)
	}
	if len(series) != 2 || series[0].PerSecond != 2 || series[1].PerSecond != 1 || series[1].P50 != 500 {
		t.Fatalf("series %+v", series)
	}
}

func TestReportOutputs(t *testing.T) {
	rep := &Report{Run: "r", Correct: true, Invitations: Throughput{Accepted: 3, Seconds: 2, PerSecond: 1.5},
		Series: []Point{{T: 0, PerSecond: 2, P50: 100, P99: 300}, {T: 1, PerSecond: 1, P50: 500, P99: 500}},
		Parts:  []Part{{Name: "bench", Runs: "sandbox", PID: 1, CPUSeconds: 0.5, CPUPer1000: 166}, {Name: "redis", Note: "not measured"}}}
	var svg, table, js bytes.Buffer
	if err := rep.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Polylines []struct {
			Points string `xml:"points,attr"`
		} `xml:"polyline"`
	}
	if err := xml.Unmarshal(svg.Bytes(), &doc); err != nil || len(doc.Polylines) != 3 {
		t.Fatalf("SVG: %v, %d polylines (want 3: throughput, p50, p99)", err, len(doc.Polylines))
	}
	for _, p := range doc.Polylines {
		if n := len(strings.Fields(p.Points)); n != 2 {
			t.Fatalf("polyline has %d points, want one per bucket (2)", n)
		}
	}
	if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "correct: ") || !strings.Contains(table.String(), "not measured") {
		t.Fatalf("table (%v):\n%s", err, table.String())
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Invitations.PerSecond != 1.5 || len(back.Series) != 2 {
		t.Fatalf("JSON round trip: %v, %+v", err, back)
	}
}

func TestListenerPID(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if pid := listenerPID(ln.Addr().String()); pid != os.Getpid() {
		t.Fatalf("listenerPID(%s) = %d, want this process %d", ln.Addr(), pid, os.Getpid())
	}
	if pid := listenerPID("192.0.2.1:9092"); pid != 0 {
		t.Fatalf("listenerPID of a remote address = %d, want 0", pid)
	}
}
