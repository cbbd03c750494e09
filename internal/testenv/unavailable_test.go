package testenv_test

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/invitepipe/invitepipe/internal/testenv"
)

// recorder is a testing.TB that records Fatalf and Skipf instead of ending the test.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Fatalf(format string, a ...any) { r.fatal = fmt.Sprintf(format, a...) }
func (r *recorder) Skipf(format string, a ...any)  { r.skip = fmt.Sprintf(format, a...) }

func TestMissingServiceFailsOnCIAndSkipsElsewhere(t *testing.T) {
	listening, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listening.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	openAddr, closedAddr := listening.Addr().String(), closed.Addr().String()

	services := []struct {
		env   string
		get   func(testing.TB) string
		value func(addr string) string
	}{
		{testenv.KafkaBrokersEnv, func(t testing.TB) string { return strings.Join(testenv.Kafka(t), ",") },
			func(addr string) string { return addr }},
		{testenv.RedisURLEnv, testenv.RedisURL,
			func(addr string) string { return "redis://:secret@" + addr + "/0" }},
		{testenv.PostgresURLEnv, testenv.PostgresURL,
			func(addr string) string { return "postgres://u:p@" + addr + "/db?sslmode=disable" }},
	}
	tests := []struct {
		name      string
		ci        string
		addr      string // "" leaves the variable empty
		wantFatal string // substring of the failure, "" for none
		wantSkip  string // substring of the skip reason, "" for none
	}{
		{name: "unset on CI fails", ci: "true", wantFatal: "is not set"},
		{name: "unset elsewhere skips", ci: "", wantSkip: "is not set"},
		{name: "unreachable on CI fails", ci: "true", addr: closedAddr, wantFatal: "does not answer"},
		{name: "unreachable elsewhere skips", ci: "false", addr: closedAddr, wantSkip: "does not answer"},
		{name: "reachable on CI is returned", ci: "true", addr: openAddr},
	}
	for _, svc := range services {
		for _, tc := range tests {
			t.Run(svc.env+"/"+tc.name, func(t *testing.T) {
				value := ""
				if tc.addr != "" {
					value = svc.value(tc.addr)
				}
				t.Setenv("CI", tc.ci)
				t.Setenv(svc.env, value)
				rec := &recorder{TB: t}

				got := svc.get(rec)

				checkReport(t, "failure", rec.fatal, tc.wantFatal)
				checkReport(t, "skip", rec.skip, tc.wantSkip)
				if tc.wantFatal == "" && tc.wantSkip == "" && got != value {
					t.Errorf("got %q, want %q", got, value)
				}
			})
		}
	}
}

// checkReport checks that a failure or skip message contains want and the command that
// starts the services, or that there is none when want is empty.
func checkReport(t *testing.T, kind, got, want string) {
	t.Helper()
	switch {
	case want == "" && got != "":
		t.Errorf("unexpected %s: %s", kind, got)
	case want != "" && (!strings.Contains(got, want) || !strings.Contains(got, "scripts/services up")):
		t.Errorf("%s = %q, want it to contain %q and the command `scripts/services up`", kind, got, want)
	}
}
