package testenv_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
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
	openAddr, closedAddr := listeningAddr(t), refusingAddr(t)

	services := []struct {
		env   string
		get   func(testing.TB) string
		value func(addr string) string
	}{
		{testenv.KafkaBrokersEnv, func(t testing.TB) string { return strings.Join(testenv.Kafka(t), ",") },
			func(addr string) string { return addr }},
		{testenv.KafkaSASLBrokersEnv, func(t testing.TB) string {
			// Credentials set, so the brokers variable alone decides.
			t.Setenv(testenv.KafkaSASLUsernameEnv, "u")
			t.Setenv(testenv.KafkaSASLPasswordEnv, "p")
			brokers, _, _ := testenv.KafkaSASL(t)
			return strings.Join(brokers, ",")
		}, func(addr string) string { return addr }},
		{testenv.KafkaTLSBrokersEnv, func(t testing.TB) string {
			// The CA file exists, so the brokers variable alone decides.
			t.Setenv(testenv.KafkaTLSCAFileEnv, existingFile(t))
			brokers, _ := testenv.KafkaTLS(t)
			return strings.Join(brokers, ",")
		}, func(addr string) string { return addr }},
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

func TestKafkaSASLNeedsCredentials(t *testing.T) {
	openAddr := listeningAddr(t)
	tests := []struct {
		name               string
		username, password string
		wantFatal          string // substring of the failure, "" for none
	}{
		{name: "username unset", password: "p", wantFatal: testenv.KafkaSASLUsernameEnv + " is not set"},
		{name: "password unset", username: "u", wantFatal: testenv.KafkaSASLPasswordEnv + " is not set"},
		{name: "both set are returned", username: "u", password: "p"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", "true")
			t.Setenv(testenv.KafkaSASLBrokersEnv, openAddr)
			t.Setenv(testenv.KafkaSASLUsernameEnv, tc.username)
			t.Setenv(testenv.KafkaSASLPasswordEnv, tc.password)
			rec := &recorder{TB: t}

			brokers, username, password := testenv.KafkaSASL(rec)

			checkReport(t, "failure", rec.fatal, tc.wantFatal)
			if tc.wantFatal != "" {
				return
			}
			if len(brokers) != 1 || brokers[0] != openAddr || username != tc.username || password != tc.password {
				t.Errorf("KafkaSASL = %v, %q, %q; want [%s], %q, %q", brokers, username, password, openAddr, tc.username, tc.password)
			}
		})
	}
}

func TestKafkaTLSNeedsCAFile(t *testing.T) {
	openAddr, caFile := listeningAddr(t), existingFile(t)
	tests := []struct {
		name      string
		caFile    string
		wantFatal string // substring of the failure, "" for none
	}{
		{name: "CA file unset", wantFatal: testenv.KafkaTLSCAFileEnv + " is not set"},
		{name: "CA file missing", caFile: filepath.Join(t.TempDir(), "absent.pem"), wantFatal: "no such file"},
		{name: "CA file present is returned", caFile: caFile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", "true")
			t.Setenv(testenv.KafkaTLSBrokersEnv, openAddr)
			t.Setenv(testenv.KafkaTLSCAFileEnv, tc.caFile)
			rec := &recorder{TB: t}

			brokers, gotCAFile := testenv.KafkaTLS(rec)

			checkReport(t, "failure", rec.fatal, tc.wantFatal)
			if tc.wantFatal != "" {
				return
			}
			if len(brokers) != 1 || brokers[0] != openAddr || gotCAFile != tc.caFile {
				t.Errorf("KafkaTLS = %v, %q; want [%s], %q", brokers, gotCAFile, openAddr, tc.caFile)
			}
		})
	}
}

func TestStartRedisTLSNeedsTheTestCertificates(t *testing.T) {
	present := existingFile(t)
	files := []string{testenv.KafkaTLSCAFileEnv, testenv.TLSCertFileEnv, testenv.TLSKeyFileEnv}
	for _, missing := range files {
		t.Run(missing+" unset", func(t *testing.T) {
			t.Setenv("CI", "true")
			for _, env := range files {
				t.Setenv(env, present)
			}
			t.Setenv(missing, "")
			rec := &recorder{TB: t}

			server := testenv.StartRedisTLS(rec)

			checkReport(t, "failure", rec.fatal, missing+" is not set")
			if server != nil {
				t.Errorf("StartRedisTLS started a server without %s", missing)
			}
		})
	}
}

// existingFile returns the path of a file that exists until the test ends.
func existingFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, []byte("not checked by testenv"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// listeningAddr returns the address of a loopback listener that accepts until the test ends.
func listeningAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

// refusingAddr returns a loopback address on which nothing listens.
func refusingAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	return l.Addr().String()
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
