// Command invitepipe turns rows of a company's data into Trustpilot review invitations.
//
// One binary, one subcommand per role; main only wires packages together. Every
// subcommand takes --help, which lists its flags and the INVITEPIPE_* variables it reads
// with their defaults.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand of invitepipe.
type command struct {
	name    string
	summary string
	// run executes the command with the arguments after its name. It returns
	// flag.ErrHelp when --help was asked for (exit status 0) and any other error to
	// stop the program with exit status 1.
	run func(ctx context.Context, args []string, stdout io.Writer) error
}

// commands lists the subcommands in the order --help shows them.
func commands() []command {
	return []command{
		{name: "produce", summary: "the producer: emit the rows of each activation's source that are new since its last run", run: runProduce},
		{name: "consume", summary: "the consumer: rows from Kafka to Trustpilot invitations (a Kubernetes Deployment)", run: runConsume},
		{name: "sandbox", summary: "a local Trustpilot API simulator: both hosts' paths on one address", run: runSandbox},
		{name: "demo", summary: "the whole pipeline in one process (embedded Kafka, Redis and sandbox) on the example data", run: runDemo},
		{name: "check", summary: "validate the activation file and preview invitation JSON for sample rows", run: runCheck},
		{name: "replay", summary: "move the consumer group's offsets to read rows again (or skip them); prints the plan, --execute applies it", run: runReplay},
		{name: "dlq", summary: "list, show and redrive dead-letter records (redrive is a dry run unless --execute)", run: runDLQ},
		{name: "bench", summary: "load test: rows through the consumer to the sandbox; throughput, latency and CPU per part (correctness checked)", run: runBench},
		{name: "version", summary: "print the version", run: runVersion},
	}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		default:
			fmt.Fprintf(stderr, "invitepipe %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "invitepipe: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "invitepipe turns rows of data into Trustpilot review invitations.")
	fmt.Fprintln(w, "\nUsage: invitepipe <command> [flags]   (invitepipe <command> --help for its flags and variables)")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
}

func runVersion(_ context.Context, _ []string, stdout io.Writer) error {
	_, err := fmt.Fprintln(stdout, "invitepipe", version)
	return err
}
