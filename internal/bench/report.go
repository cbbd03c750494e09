package bench

import (
	"context"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/invitepipe/invitepipe/internal/procstat"
	"github.com/invitepipe/invitepipe/internal/sandbox"
)

// Report is what a run measured. Its JSON form is the one to compare runs with.
type Report struct {
	Run string `json:"run"`
	// Correct is true when every valid row was accepted once, every bad row
	// dead-lettered and no reference accepted twice.
	Correct     bool        `json:"correct"`
	Setup       Setup       `json:"setup"`
	Rows        RowCounts   `json:"rows"`
	Correctness Correctness `json:"correctness"`
	Invitations Throughput  `json:"invitations"`
	// Latency is from a row's writing to Kafka to the sandbox's acceptance of its
	// invitation, over the valid rows.
	Latency Latency `json:"row_to_accept_latency_ms"`
	Parts   []Part  `json:"parts"`
	Redis   Redis   `json:"redis"`
	// Series is the run over time, one point per Setup.BucketSeconds.
	Series []Point `json:"series"`
	// Replay is the replay pass (--replay); nil without one.
	Replay *Replay `json:"replay,omitempty"`
}

// Setup is what the run was asked to do, and where.
type Setup struct {
	Rows           int     `json:"rows"`
	Destinations   int     `json:"destinations"`
	Activations    int     `json:"activations"`
	Mix            string  `json:"mix"`
	DuplicateRatio float64 `json:"duplicate_ratio"`
	BadRatio       float64 `json:"bad_ratio"`
	Rate           float64 `json:"rate"`
	Partitions     int     `json:"partitions"`
	// Consumer is what consumed: invitepipe, or the contender's name (Options.Contender).
	Consumer    string `json:"consumer"`
	Processes   int    `json:"consumer_processes"`
	Concurrency int    `json:"consumer_concurrency"`
	// CallsInFlight is the most Trustpilot calls invitepipe's consumer may have in
	// flight, what a contender is given too.
	CallsInFlight int                           `json:"calls_in_flight"`
	LatencyMin    string                        `json:"sandbox_latency_min"`
	LatencyMax    string                        `json:"sandbox_latency_max"`
	Faults        map[sandbox.FaultKind]float64 `json:"sandbox_faults"`
	Budget        string                        `json:"budget_per_destination"`
	Kafka         string                        `json:"kafka"`
	Redis         string                        `json:"redis"`
	CPUs          int                           `json:"cpus"`
	BucketSeconds float64                       `json:"bucket_seconds"`
}

// RowCounts are the messages written, by kind.
type RowCounts struct {
	Written    int `json:"written"`
	Valid      int `json:"valid"`
	Duplicates int `json:"duplicates"`
	Bad        int `json:"bad"`
}

// Correctness is what the sandbox and the dead-letter topic hold at the end.
type Correctness struct {
	Accepted            int   `json:"accepted"`
	ExpectedAccepted    int   `json:"expected_accepted"`
	SandboxDuplicates   int   `json:"sandbox_duplicates"`
	DeadLettered        int64 `json:"dead_lettered"`
	ExpectedDeadLetters int   `json:"expected_dead_letters"`
}

// Throughput is the invitations accepted from the first row written to the last
// acceptance. CommittedSeconds is until every outcome was in and committed (the
// consumer commits periodically, so it ends later).
type Throughput struct {
	Accepted         int     `json:"accepted"`
	Seconds          float64 `json:"seconds"`
	PerSecond        float64 `json:"per_second_mean"`
	CommittedSeconds float64 `json:"committed_seconds"`
}

// Latency is a distribution in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Part is one process's cost.
type Part struct {
	Name string `json:"name"`
	// Runs says what runs in the process, e.g. "sandbox, row writer, consumer".
	Runs    string `json:"runs"`
	PID     int    `json:"pid,omitempty"`
	Command string `json:"command,omitempty"`
	// Window is "process life" (a consumer process) or "run" (from the first row
	// written to the last outcome).
	Window        string  `json:"window"`
	CPUSeconds    float64 `json:"cpu_seconds"`
	CPUPer1000    float64 `json:"cpu_seconds_per_1000_invitations"`
	PeakRSSBytes  int64   `json:"peak_rss_bytes,omitempty"`
	Note          string  `json:"note,omitempty"`
	whole, rss    bool
	cpuAtStart    float64
	measureFailed bool
}

// Redis is the Redis commands of the run; see the package documentation for what each
// counts. A nil field was not measured.
type Redis struct {
	ServerCommands                *int64   `json:"server_commands"`
	ServerCommandsPerInvitation   *float64 `json:"server_commands_per_invitation"`
	ClientRoundTrips              *int64   `json:"client_round_trips"`
	ClientRoundTripsPerInvitation *float64 `json:"client_round_trips_per_invitation"`
	ClientCommands                *int64   `json:"client_commands"`
	ClientCommandsPerInvitation   *float64 `json:"client_commands_per_invitation"`
	Note                          string   `json:"note"`
}

// Point is one bucket of the run: invitations accepted per second in it and the
// latency of those rows.
type Point struct {
	T         float64 `json:"t_seconds"`
	PerSecond float64 `json:"invitations_per_second"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
}

// parts are the processes whose cost the run reads: the consumer processes, this
// process, and the Redis server and Kafka broker when they listen on this machine.
func (r *runner) parts(cons consumers) []Part {
	var parts []Part
	for i, pid := range cons.pids() {
		parts = append(parts, Part{Name: fmt.Sprintf("consumer %d", i), Runs: r.o.processRuns(), PID: pid, Window: "process life", whole: true, rss: true})
	}
	runs := []string{"sandbox", "row writer"}
	if len(cons.pids()) == 0 {
		runs = append(runs, "consumer")
	}
	if r.embeddedKafka {
		runs = append(runs, "Kafka (embedded)")
	}
	if r.embeddedRedis {
		runs = append(runs, "Redis (embedded)")
	}
	parts = append(parts, Part{Name: "bench", Runs: strings.Join(runs, ", "), PID: os.Getpid(), Window: "run", rss: true})
	server := func(name, addr string, embedded bool) {
		if embedded {
			return
		}
		p := Part{Name: name, Runs: addr, Window: "run"}
		if p.PID = listenerPID(addr); p.PID == 0 || p.PID == os.Getpid() {
			p.PID, p.Note = 0, "not measured: not listening on this machine, or not visible"
		}
		parts = append(parts, p)
	}
	server("redis", r.redisAddr(), r.embeddedRedis)
	server("kafka broker", r.cfg.Brokers[0], r.embeddedKafka)
	for i := range parts {
		if parts[i].PID != 0 {
			parts[i].Command = procName(parts[i].PID)
		}
	}
	return parts
}

// begin reads the CPU time at the start of the window.
func (p *Part) begin() {
	if p.PID == 0 || p.whole {
		return
	}
	cpu, err := procstat.CPU(p.PID)
	p.cpuAtStart, p.measureFailed = cpu, err != nil
}

// finish reads the CPU time and the peak RSS at the end of the window.
func (p *Part) finish() {
	if p.PID == 0 {
		return
	}
	cpu, err := procstat.CPU(p.PID)
	if err != nil || p.measureFailed {
		p.Note = "not measured: " + fmt.Sprint(err)
		return
	}
	p.CPUSeconds = cpu - p.cpuAtStart
	if p.rss {
		p.PeakRSSBytes, _ = procstat.Memory(p.PID, "VmHWM")
	}
}

// report builds the report from the sandbox's invitations and the rows' emit times.
func (r *runner) report(start time.Time, o outcome, emitted []time.Time, parts []Part) *Report {
	st := r.sb.Stats()
	rep := &Report{
		Run: r.run,
		Setup: Setup{
			Rows: r.o.Rows, Destinations: r.o.Destinations, Activations: r.o.Activations, Mix: r.o.Mix.String(),
			DuplicateRatio: r.o.DuplicateRatio, BadRatio: r.o.BadRatio, Rate: r.o.Rate, Partitions: r.o.Partitions,
			Consumer: r.o.consumerName(), Processes: r.o.Processes, Concurrency: r.cfg.Concurrency,
			CallsInFlight: callsInFlight(r.cfg.Concurrency, r.cfg.PartitionConcurrency, r.o.Partitions),
			LatencyMin:    r.o.LatencyMin.String(), LatencyMax: r.o.LatencyMax.String(), Faults: r.o.Faults,
			Budget: r.o.Budget.String(), Kafka: r.kafkaText(), Redis: r.redisText(), CPUs: runtime.NumCPU(),
			BucketSeconds: r.o.Bucket.Seconds(),
		},
		Rows: RowCounts{Written: len(r.wl.rows), Valid: r.wl.valid, Duplicates: r.wl.dups, Bad: r.wl.bad},
		Correctness: Correctness{
			Accepted: st.AcceptedInvitations, ExpectedAccepted: r.wl.valid, SandboxDuplicates: st.DuplicateReferences,
			DeadLettered: o.dead, ExpectedDeadLetters: r.wl.bad,
		},
		Parts: parts,
	}
	rep.Correct = st.DuplicateReferences == 0 && st.AcceptedInvitations == r.wl.valid && o.dead == int64(r.wl.bad)
	for i := range rep.Parts {
		if rep.Parts[i].PID != 0 && st.AcceptedInvitations > 0 {
			rep.Parts[i].CPUPer1000 = rep.Parts[i].CPUSeconds * 1000 / float64(st.AcceptedInvitations)
		}
	}
	invs := r.sb.Invitations("", "")
	last := start
	for _, inv := range invs {
		last = later(last, inv.CreatedAt)
	}
	seconds := last.Sub(start).Seconds()
	rep.Invitations = Throughput{Accepted: st.AcceptedInvitations, Seconds: seconds, CommittedSeconds: o.end.Sub(start).Seconds()}
	if seconds > 0 {
		rep.Invitations.PerSecond = float64(st.AcceptedInvitations) / seconds
	}
	rep.Latency, rep.Series = latencies(invs, r.run, start, last, r.o.Bucket, emitted)
	return rep
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// latencies measures each row's first acceptance from its emit time, over the run and
// per bucket of width bucket from start to the last acceptance.
func latencies(invs []sandbox.Invitation, run string, start, last time.Time, bucket time.Duration, emitted []time.Time) (Latency, []Point) {
	n := int(last.Sub(start)/bucket) + 1
	perBucket := make([][]float64, n)
	var all []float64
	seen := map[string]bool{}
	for _, inv := range invs {
		k, ok := rowIndex(inv.ReferenceNumber, run)
		if !ok || k >= len(emitted) || seen[inv.ReferenceNumber] {
			continue
		}
		seen[inv.ReferenceNumber] = true
		ms := float64(inv.CreatedAt.Sub(emitted[k])) / float64(time.Millisecond)
		all = append(all, ms)
		b := min(max(int(inv.CreatedAt.Sub(start)/bucket), 0), n-1)
		perBucket[b] = append(perBucket[b], ms)
	}
	slices.Sort(all)
	lat := Latency{P50: percentile(all, 50), P99: percentile(all, 99)}
	if len(all) > 0 {
		lat.Max = all[len(all)-1]
	}
	series := make([]Point, n)
	for i, ms := range perBucket {
		slices.Sort(ms)
		series[i] = Point{T: (time.Duration(i) * bucket).Seconds(), PerSecond: float64(len(ms)) / bucket.Seconds(), P50: percentile(ms, 50), P99: percentile(ms, 99)}
	}
	return lat, series
}

// rowIndex reads k from a reference run-k.
func rowIndex(ref, run string) (int, bool) {
	rest, ok := strings.CutPrefix(ref, run+"-")
	if !ok {
		return 0, false
	}
	k, err := strconv.Atoi(rest)
	return k, err == nil && k >= 0
}

// percentile is the nearest-rank percentile of sorted values; 0 for none.
func percentile(sorted []float64, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}

func (r *runner) kafkaText() string {
	if r.embeddedKafka {
		return "embedded (kfake)"
	}
	return strings.Join(r.cfg.Brokers, ",")
}

func (r *runner) redisText() string {
	if r.embeddedRedis {
		return "embedded (miniredis)"
	}
	return r.redisAddr()
}

// redisCommands reads the server's total_commands_processed; nil when it cannot.
func (r *runner) redisCommands(ctx context.Context) *int64 {
	client, err := r.cfg.Redis.Client()
	if err != nil {
		return nil
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := client.Info(ctx, "stats").Result()
	if err != nil {
		return nil
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil
			}
			return &n
		}
	}
	return nil
}

// redisReport counts the run's Redis commands: the server's (less the INFO that read
// them) and, in-process, the consumer client's.
func (r *runner) redisReport(ctx context.Context, before *int64, cons consumers, accepted int) Redis {
	per := func(n int64) *float64 {
		if accepted == 0 {
			return nil
		}
		v := float64(n) / float64(accepted)
		return &v
	}
	var rd Redis
	notes := []string{"server: total_commands_processed over the run (commands run by Lua scripts included; other clients of a shared server included)"}
	if after := r.redisCommands(ctx); before != nil && after != nil {
		n := *after - *before - 1
		rd.ServerCommands, rd.ServerCommandsPerInvitation = &n, per(n)
	} else {
		notes[0] = "server: INFO stats not readable"
	}
	if trips, cmds, ok := cons.trips(); ok {
		rd.ClientRoundTrips, rd.ClientRoundTripsPerInvitation = &trips, per(trips)
		rd.ClientCommands, rd.ClientCommandsPerInvitation = &cmds, per(cmds)
		notes = append(notes, "client: the in-process consumer's round trips (a command or a pipeline) and commands sent (a script call is one)")
	} else {
		notes = append(notes, "client: not counted for consumer processes (run with --processes 0)")
	}
	rd.Note = strings.Join(notes, "; ")
	return rd
}

// faultsText lists fault rates as KIND=RATE, sorted.
func faultsText(f map[sandbox.FaultKind]float64) string {
	if len(f) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(f)) {
		parts = append(parts, fmt.Sprintf("%s=%g", k, f[k]))
	}
	return strings.Join(parts, ",")
}
