package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestBenchRefusesBadFlags checks that a bad flag stops the bench before it starts
// anything, with an error naming the flag.
func TestBenchRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown invitation type", []string{"--mix", "email=1"}, `--mix "email=1": unknown type "email"`},
		{"fault without a rate", []string{"--faults", "503"}, `--faults "503"`},
		{"no rows", []string{"--rows", "0"}, "--rows 0"},
		{"budget not a window", []string{"--budget", "lots"}, "LIMIT/DURATION"},
		{"blank consumer command", []string{"--consumer-cmd", " "}, `--consumer-cmd " "`},
		{"consumer command with three destinations", []string{"--consumer-cmd", "benthos", "--destinations", "3"}, "give --destinations 1 --activations 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), append([]string{"bench"}, tc.args...), &out, &errOut)
			if code == 0 || !strings.Contains(out.String()+errOut.String(), tc.want) {
				t.Fatalf("exit %d, output %q %q: want a failure naming %q", code, out.String(), errOut.String(), tc.want)
			}
		})
	}
}

func TestBenchHelpListsFlagsAndVariables(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"bench", "--help"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"-rows", "-processes", "-plot", "-json", "-consumer-cmd", "BENCH_TP_ACCESS_TOKEN", "INVITEPIPE_CONCURRENCY"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("--help lacks %q:\n%s", want, out.String())
		}
	}
}
