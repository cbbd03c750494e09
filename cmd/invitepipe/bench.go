package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/invitepipe/invitepipe/internal/bench"
	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/logging"
	"github.com/invitepipe/invitepipe/internal/sandbox"
)

// runBench runs a load test of the consumer and prints its report.
func runBench(ctx context.Context, args []string, stdout io.Writer) error {
	var cfg config.Consumer
	fs := newFlagSet("bench", "bench [--rows N] [--destinations D] [--activations A] [--processes R] [--kafka BROKERS] [--redis URL] [--json FILE] [--plot FILE.svg]", &cfg, stdout)
	o := bench.Options{Mix: bench.DefaultMix}
	fs.IntVar(&o.Rows, "rows", 10000, "row messages to write, duplicates and bad rows included")
	fs.IntVar(&o.Destinations, "destinations", 3, "destinations (business units, each with its own API key and budget)")
	fs.IntVar(&o.Activations, "activations", 3, "activations, spread over the destinations and the --mix")
	mix := fs.String("mix", bench.DefaultMix.String(), "weights of the activations' invitation types")
	fs.Float64Var(&o.DuplicateRatio, "duplicates", 0.05, "share of messages that repeat an earlier row (the ledger must skip them)")
	fs.Float64Var(&o.BadRatio, "bad", 0.01, "share of messages to dead-letter (half not JSON, half an invalid email)")
	fs.Float64Var(&o.Rate, "rate", 0, "rows written per second (0: as fast as Kafka takes them)")
	fs.IntVar(&o.Partitions, "partitions", 6, "partitions of the run's rows and dead-letter topics")
	consumerCmd := fs.String("consumer-cmd", "", "run this command line (split at spaces) instead of invitepipe consume, to measure another consumer on the same workload, e.g. 'bench/benthos/benthos -c bench/benthos/config.yaml'; it needs --destinations 1 --activations 1 and gets the INVITEPIPE_* settings plus BENCH_TP_ACCESS_TOKEN, BENCH_TP_BUSINESS_UNIT_ID, BENCH_TP_BUSINESS_USER_ID, BENCH_TP_SERVICE_TEMPLATE_ID, BENCH_TP_SENDER_NAME and BENCH_CALLS_IN_FLIGHT")
	fs.IntVar(&o.Processes, "processes", 1, "consumer processes, each an invitepipe consume (0: the consumer in this process, which also counts its Redis round trips)")
	fs.DurationVar(&o.LatencyMin, "latency-min", 20*time.Millisecond, "least latency the sandbox adds to an invitation call")
	fs.DurationVar(&o.LatencyMax, "latency-max", 80*time.Millisecond, "most latency the sandbox adds (uniform between min and max)")
	faults := fs.String("faults", "none", "sandbox fault rates, KIND=RATE pairs such as 503=0.01,500=0.005 (kinds: 500 500fault 503 520 403html 429 timeout accept+500 accept+timeout)")
	fs.TextVar(&o.Budget, "budget", sandbox.RateWindow{}, "calls per destination per window, LIMIT/DURATION such as 600/1m, at the sandbox and in the activation file (off: none)")
	kafka := fs.String("kafka", "", "comma-separated brokers of a real Kafka (default: an embedded one); the run creates its own topics there and deletes them after a correct run")
	fs.StringVar(&o.Redis, "redis", "", "URL of a real Redis, redis://[:password@]host:port/db (default: an embedded one)")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "give up when rows still have no outcome after this long")
	fs.BoolVar(&o.Replay, "replay", false, "after the run, replay the rows topic from its start (every valid row a duplicate) and report that pass too")
	fs.DurationVar(&o.LedgerRetention, "ledger-retention", 24*time.Hour, "the consumers' ledger retention: how many 30-day epochs a lookup reads (9600h, the product's default, for a production lookup; 24h leaves less behind in Redis)")
	fs.DurationVar(&o.Bucket, "bucket", time.Second, "width of the time series' buckets")
	jsonOut := fs.String("json", "", "write the report as JSON to this file (-: standard output, instead of the table)")
	plot := fs.String("plot", "", "write throughput and latency over time to this SVG file")
	fs.StringVar(&o.Dir, "dir", "", "keep the activation file and the consumer processes' logs here (default: a temporary directory, removed after a correct run)")
	logLevel := fs.String("log-level", "warn", "level of the consumers' JSON logs (in-process: on stderr; processes: in --dir)")
	memProfile := fs.String("memprofile", "", "write a profile of this process's allocations (with --processes 0: the consumer's too) to this file, for go tool pprof -sample_index=alloc_space")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process (with --processes 0: the consumer's too) to this file, for go tool pprof")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var err error
	if o.Mix, err = bench.ParseMix(*mix); err != nil {
		return err
	}
	if o.Faults, err = bench.ParseFaults(*faults); err != nil {
		return err
	}
	if *kafka != "" {
		o.Kafka = strings.Split(*kafka, ",")
	}
	if err := config.Load(&cfg); err != nil {
		return err
	}
	cfg.LogLevel = *logLevel
	if o.Log, err = logging.New(os.Stderr, *logLevel); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find this program to start consumer processes: %w", err)
	}
	o.Consumer, o.Command, o.Version, o.Progress = cfg, []string{exe, "consume"}, version, os.Stderr
	if *consumerCmd != "" {
		if o.Command, o.Contender, err = bench.ParseCommand(*consumerCmd); err != nil {
			return err
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := bench.Run(ctx, o)
	if *memProfile != "" {
		err = errors.Join(err, writeAllocs(*memProfile))
	}
	if rep == nil {
		return err
	}
	return errors.Join(err, writeBenchReport(rep, stdout, *jsonOut, *plot))
}

// writeAllocs writes the profile of this process's allocations since it started to path.
func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--memprofile: %w", err)
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("--memprofile: %w", err)
	}
	return f.Close()
}

// writeBenchReport prints the table, or the JSON when it goes to standard output, and
// writes the JSON and the plot files asked for.
func writeBenchReport(rep *bench.Report, stdout io.Writer, jsonOut, plot string) error {
	print := rep.WriteTable
	if jsonOut == "-" {
		print, jsonOut = rep.WriteJSON, ""
	}
	if err := print(stdout); err != nil {
		return err
	}
	for _, out := range []struct {
		path  string
		write func(io.Writer) error
	}{{jsonOut, rep.WriteJSON}, {plot, rep.WriteSVG}} {
		if out.path == "" {
			continue
		}
		if err := writeFile(out.path, out.write); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", out.path)
	}
	return nil
}

// writeFile creates path and writes it with write.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(write(f), f.Close())
}
