package testenv

import (
	"os"
	"testing"
)

// MeasureEnv, set to 1, runs the measurements: tests that take minutes and log numbers
// for BENCHMARKS.md instead of asserting them.
const MeasureEnv = "INVITEPIPE_MEASURE"

// Measure skips t, a measurement of what, unless MeasureEnv is 1 and -short is off.
func Measure(t testing.TB, what string) {
	t.Helper()
	if testing.Short() || os.Getenv(MeasureEnv) != "1" {
		t.Skipf("set %s=1 (without -short) to measure %s", MeasureEnv, what)
	}
}
