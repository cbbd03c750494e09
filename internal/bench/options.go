package bench

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/sandbox"
)

// ErrInvalidOptions is wrapped by every error of Options.Validate and ParseMix.
var ErrInvalidOptions = errors.New("invalid bench options")

// Options are one bench run.
type Options struct {
	// Rows is how many row messages are written, duplicates and bad rows included.
	Rows int
	// Destinations and Activations are how many of each the activation file has;
	// activation i sends to destination i mod Destinations.
	Destinations, Activations int
	// Mix weighs the invitation types of the activations.
	Mix Mix
	// DuplicateRatio is the share of messages that repeat an earlier valid row exactly
	// (a producer's redelivery); BadRatio the share that must be dead-lettered (half
	// not JSON, half an invalid email).
	DuplicateRatio, BadRatio float64
	// Rate paces the writing of rows, in messages per second; 0 writes as fast as Kafka
	// acknowledges them.
	Rate float64
	// Partitions of the rows and dead-letter topics.
	Partitions int
	// Processes is how many `invitepipe consume` child processes run the consumer; 0
	// runs it in this process.
	Processes int
	// Command starts one consumer process: the program and the arguments before the
	// environment is added, e.g. {"/usr/local/bin/invitepipe", "consume"}. Needed when
	// Processes > 0.
	Command []string
	// Contender, when set, names another program that Command starts instead of
	// `invitepipe consume` (e.g. "benthos"), to measure it on the same workload. It
	// gets the INVITEPIPE_* variables a consumer process gets, plus the BENCH_*
	// variables of contenderEnv (the one destination's settings, an access token, the
	// calls in flight invitepipe allows), so it needs one destination and activation.
	Contender string
	// LatencyMin and LatencyMax bound the sandbox's added latency per invitation call,
	// drawn uniformly between them.
	LatencyMin, LatencyMax time.Duration
	// Faults are the sandbox's fault rates per kind (0..1 each, at most 1 together).
	Faults map[sandbox.FaultKind]float64
	// Budget is each destination's call budget, at the sandbox (429 beyond it) and in
	// the activation file (the consumer's rate limiter). The zero value: no limit.
	Budget sandbox.RateWindow
	// Kafka are the brokers of a real Kafka; empty starts an embedded one.
	Kafka []string
	// Redis is the URL of a real Redis; empty starts an embedded one.
	Redis string
	// Consumer is the in-process consumer's configuration (concurrency, retries, ...;
	// consumer processes read theirs from the environment they inherit, as `invitepipe
	// consume` does). The run sets its brokers, topics, group, Redis URL, Trustpilot
	// URLs, admin address, activation file, ledger retention (LedgerRetention), defer max age (1h)
	// and watchdog (off); Kafka TLS and SASL and the Redis password are kept.
	Consumer config.Consumer
	// Timeout bounds the wait for every row's outcome.
	Timeout time.Duration
	// Replay, after a correct run, moves the group back to the start of the rows topic
	// (as `invitepipe replay --to earliest --execute` does) and runs the consumers over
	// every row again: each valid row is then a duplicate, which the ledger skips.
	Replay bool
	// LedgerRetention is the consumers' ledger retention (INVITEPIPE_LEDGER_RETENTION).
	// It sets how many epochs a lookup reads: the default 24h keeps runs from leaving
	// much in Redis; 9600h (the product's default) measures a production lookup.
	// Default 24h.
	LedgerRetention time.Duration
	// Bucket is the width of the report's time series. Default 1s.
	Bucket time.Duration
	// Dir keeps the run's activation file and the consumer processes' logs; empty: a
	// temporary directory removed after a correct run.
	Dir string
	// Progress, when set, receives a line per second while the run waits.
	Progress io.Writer
	// Log receives the in-process consumer's logs.
	Log zerolog.Logger
	// Version labels the in-process consumer's metrics.
	Version string
}

// Validate reports every problem of o, each naming the flag and the fix.
func (o *Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...))
	}
	if o.Rows < 1 {
		bad("--rows %d: want at least 1", o.Rows)
	}
	if o.Destinations < 1 {
		bad("--destinations %d: want at least 1", o.Destinations)
	}
	if o.Activations < o.Destinations {
		bad("--activations %d: want at least one per destination (%d)", o.Activations, o.Destinations)
	}
	if o.Mix.total() == 0 {
		bad("--mix: give at least one positive weight, e.g. service=1,product=1,both=1")
	}
	for _, r := range []struct {
		flag string
		v    float64
	}{{"--duplicates", o.DuplicateRatio}, {"--bad", o.BadRatio}} {
		if r.v < 0 || r.v >= 1 {
			bad("%s %g: want a share from 0 to below 1, e.g. 0.05", r.flag, r.v)
		}
	}
	if o.DuplicateRatio+o.BadRatio >= 1 {
		bad("--duplicates %g plus --bad %g leave no valid row: keep their sum below 1", o.DuplicateRatio, o.BadRatio)
	}
	if o.Rate < 0 {
		bad("--rate %g: want 0 (as fast as Kafka takes them) or a positive rows per second", o.Rate)
	}
	if o.Partitions < 1 {
		bad("--partitions %d: want at least 1", o.Partitions)
	}
	if o.Processes < 0 {
		bad("--processes %d: want 0 (the consumer in this process) or more", o.Processes)
	}
	if o.Processes > 0 && len(o.Command) == 0 {
		bad("consumer processes need the command that starts one")
	}
	if o.Contender != "" {
		if o.Processes < 1 {
			bad("--consumer-cmd with --processes %d: another consumer runs as processes: give --processes 1 or more", o.Processes)
		}
		if o.Destinations != 1 || o.Activations != 1 {
			bad("--consumer-cmd with --destinations %d --activations %d: another consumer is told one destination and one activation: give --destinations 1 --activations 1", o.Destinations, o.Activations)
		}
	}
	if o.LatencyMin < 0 || o.LatencyMax < o.LatencyMin {
		bad("--latency-min %s, --latency-max %s: want 0 <= min <= max", o.LatencyMin, o.LatencyMax)
	}
	if o.Budget.Limit > 0 && (o.Budget.Window < activation.MinRateWindow || o.Budget.Window > activation.MaxRateWindow) {
		bad("--budget %s: the window must be from %s to %s", o.Budget, activation.MinRateWindow, activation.MaxRateWindow)
	}
	if o.Timeout <= 0 {
		bad("--timeout %s: want a positive duration such as 10m", o.Timeout)
	}
	if o.LedgerRetention < 0 {
		bad("--ledger-retention %s: want a positive duration such as 24h, or 0 for 24h", o.LedgerRetention)
	}
	if o.Bucket < 0 {
		bad("bucket %s: want a positive duration or 0 for 1s", o.Bucket)
	}
	return errors.Join(errs...)
}

// ParseCommand splits the command line of --consumer-cmd at white space (no quoting:
// put a program whose path has spaces behind a link) and returns it with the
// contender's name, the program's base name.
func ParseCommand(s string) (command []string, name string, err error) {
	command = strings.Fields(s)
	if len(command) == 0 {
		return nil, "", fmt.Errorf("%w: --consumer-cmd %q: give the program and its arguments, e.g. 'bench/benthos/benthos -c bench/benthos/config.yaml'", ErrInvalidOptions, s)
	}
	return command, filepath.Base(command[0]), nil
}

// Mix weighs the invitation types of the activations: with service=2,product=1,both=1
// half the activations are service ones.
type Mix struct {
	Service, Product, Both int
}

// DefaultMix is one of each.
var DefaultMix = Mix{Service: 1, Product: 1, Both: 1}

func (m Mix) total() int { return m.Service + m.Product + m.Both }

// String returns the text ParseMix reads.
func (m Mix) String() string {
	return fmt.Sprintf("service=%d,product=%d,both=%d", m.Service, m.Product, m.Both)
}

// ParseMix reads TYPE=WEIGHT pairs separated by commas; a type left out weighs 0.
func ParseMix(s string) (Mix, error) {
	var m Mix
	for _, part := range strings.Split(s, ",") {
		name, text, ok := strings.Cut(strings.TrimSpace(part), "=")
		w, err := strconv.Atoi(text)
		if !ok || err != nil || w < 0 {
			return Mix{}, fmt.Errorf("%w: --mix %q: want TYPE=WEIGHT pairs such as service=2,product=1,both=1", ErrInvalidOptions, s)
		}
		switch activation.InvitationType(name) {
		case activation.Service:
			m.Service = w
		case activation.Product:
			m.Product = w
		case activation.Both:
			m.Both = w
		default:
			return Mix{}, fmt.Errorf("%w: --mix %q: unknown type %q: use service, product or both", ErrInvalidOptions, s, name)
		}
	}
	return m, nil
}

// types spreads the mix over n activations: the i-th activation's type, keeping each
// type's share as close to its weight as whole activations allow.
func (m Mix) types(n int) []activation.InvitationType {
	weights := []struct {
		t activation.InvitationType
		w int
	}{{activation.Service, m.Service}, {activation.Product, m.Product}, {activation.Both, m.Both}}
	out := make([]activation.InvitationType, n)
	given := make([]int, len(weights))
	for i := range out {
		// Give activation i to the type furthest below its share of i+1 activations.
		best, bestGap := 0, -1.0
		for j, w := range weights {
			gap := float64(w.w)*float64(i+1)/float64(m.total()) - float64(given[j])
			if w.w > 0 && gap > bestGap {
				best, bestGap = j, gap
			}
		}
		given[best]++
		out[i] = weights[best].t
	}
	return out
}

// ParseFaults reads the sandbox's fault rates as KIND=RATE pairs separated by commas,
// e.g. 503=0.01,500=0.005; empty or "none" is no fault. The sandbox checks the kinds
// and that the rates add up to at most 1.
func ParseFaults(s string) (map[sandbox.FaultKind]float64, error) {
	if s == "" || s == "none" {
		return nil, nil
	}
	out := map[sandbox.FaultKind]float64{}
	for _, part := range strings.Split(s, ",") {
		kind, text, ok := strings.Cut(strings.TrimSpace(part), "=")
		rate, err := strconv.ParseFloat(text, 64)
		if !ok || kind == "" || err != nil {
			return nil, fmt.Errorf("%w: --faults %q: want KIND=RATE pairs such as 503=0.01,500=0.005", ErrInvalidOptions, s)
		}
		out[sandbox.FaultKind(kind)] = rate
	}
	return out, nil
}
