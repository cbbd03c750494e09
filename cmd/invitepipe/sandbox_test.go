package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/sandbox"
)

func TestParseSandboxArgs(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(t *testing.T, cfg sandbox.Config, logLevel string)
	}{
		{"defaults", nil, nil, func(t *testing.T, cfg sandbox.Config, logLevel string) {
			if !reflect.DeepEqual(cfg, sandbox.DefaultConfig()) || logLevel != "info" {
				t.Fatalf("config %+v, log level %q; want the defaults", cfg, logLevel)
			}
		}},
		{"environment sets", map[string]string{
			"INVITEPIPE_SANDBOX_ADDR":           "127.0.0.1:9999",
			"INVITEPIPE_SANDBOX_CREDENTIALS":    "a:1, b:2",
			"INVITEPIPE_SANDBOX_BUSINESS_USERS": "",
			"INVITEPIPE_SANDBOX_RETRY_AFTER":    "true",
			"INVITEPIPE_SANDBOX_FAULTS":         "503=0.1,520=0.2",
			"INVITEPIPE_SANDBOX_LOG_LEVEL":      "debug",
		}, nil, func(t *testing.T, cfg sandbox.Config, logLevel string) {
			want := []sandbox.Credential{{APIKey: "a", APISecret: "1"}, {APIKey: "b", APISecret: "2"}}
			if cfg.Addr != "127.0.0.1:9999" || !reflect.DeepEqual(cfg.Credentials, want) || len(cfg.BusinessUsers) != 0 ||
				!cfg.RetryAfter || logLevel != "debug" {
				t.Fatalf("config %+v, log level %q", cfg, logLevel)
			}
			if r := cfg.Faults.Rates; len(r) != 2 || r[sandbox.Fault503] != 0.1 || r[sandbox.Fault520] != 0.2 {
				t.Fatalf("fault rates %v", r)
			}
		}},
		{"flags override the environment", map[string]string{
			"INVITEPIPE_SANDBOX_ADDR":        "127.0.0.1:9999",
			"INVITEPIPE_SANDBOX_CREDENTIALS": "a:1,b:2",
			"INVITEPIPE_SANDBOX_TOKEN_TTL":   "1h",
		}, []string{"--addr", "127.0.0.1:7777", "--credentials", "x:9", "--credentials=y:8", "--token-ttl=2s"},
			func(t *testing.T, cfg sandbox.Config, _ string) {
				want := []sandbox.Credential{{APIKey: "x", APISecret: "9"}, {APIKey: "y", APISecret: "8"}}
				if cfg.Addr != "127.0.0.1:7777" || !reflect.DeepEqual(cfg.Credentials, want) || cfg.TokenTTL != 2*time.Second {
					t.Fatalf("config %+v", cfg)
				}
			}},
		{"business units, users and limits", nil, []string{
			"--business-unit", "aaaaaaaaaaaaaaaaaaaaaaaa=Shop.Example", "--business-unit", "bbbbbbbbbbbbbbbbbbbbbbbb",
			"--business-user", "u1", "--user", "ann:pw", "--rate-limit", "50/5s", "--rate-limit", "100/1m",
			"--mint-limit", "off", "--send-delay", "0s", "--frequency-days", "0",
			"--latency-min", "10ms", "--latency-max", "20ms",
			"--force-status", "aaaaaaaaaaaaaaaaaaaaaaaa=403:1014", "--force-status", "bbbbbbbbbbbbbbbbbbbbbbbb=503",
		}, func(t *testing.T, cfg sandbox.Config, _ string) {
			wantUnits := []sandbox.BusinessUnit{{ID: "aaaaaaaaaaaaaaaaaaaaaaaa", Domain: "shop.example"}, {ID: "bbbbbbbbbbbbbbbbbbbbbbbb"}}
			wantLimits := []sandbox.RateWindow{{Limit: 50, Window: 5 * time.Second}, {Limit: 100, Window: time.Minute}}
			wantForced := map[string]sandbox.ForcedStatus{
				"aaaaaaaaaaaaaaaaaaaaaaaa": {Status: 403, ErrorCode: 1014}, "bbbbbbbbbbbbbbbbbbbbbbbb": {Status: 503},
			}
			switch {
			case !reflect.DeepEqual(cfg.BusinessUnits, wantUnits):
				t.Fatalf("business units %+v", cfg.BusinessUnits)
			case !reflect.DeepEqual(cfg.BusinessUsers, []string{"u1"}):
				t.Fatalf("business users %v", cfg.BusinessUsers)
			case !reflect.DeepEqual(cfg.Users, []sandbox.User{{Username: "ann", Password: "pw"}}):
				t.Fatalf("users %v", cfg.Users)
			case !reflect.DeepEqual(cfg.RateLimits, wantLimits) || cfg.MintLimit != (sandbox.RateWindow{}):
				t.Fatalf("rate limits %v, mint limit %v", cfg.RateLimits, cfg.MintLimit)
			case cfg.SendDelay != 0 || cfg.FrequencyDays != 0:
				t.Fatalf("send delay %s, frequency %d", cfg.SendDelay, cfg.FrequencyDays)
			case cfg.Faults.LatencyMin != 10*time.Millisecond || cfg.Faults.LatencyMax != 20*time.Millisecond:
				t.Fatalf("latency %s..%s", cfg.Faults.LatencyMin, cfg.Faults.LatencyMax)
			case !reflect.DeepEqual(cfg.Faults.Forced, wantForced):
				t.Fatalf("forced %v", cfg.Faults.Forced)
			}
		}},
		{"empty values clear lists", nil, []string{"--business-user", "", "--rate-limit="},
			func(t *testing.T, cfg sandbox.Config, _ string) {
				if len(cfg.BusinessUsers) != 0 || len(cfg.RateLimits) != 0 {
					t.Fatalf("business users %v, rate limits %v; want none", cfg.BusinessUsers, cfg.RateLimits)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setSandboxEnv(t, tt.env)
			cfg, err := parseSandboxArgs(tt.args, io.Discard)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			tt.check(t, cfg.Config(), cfg.LogLevel)
		})
	}
}

func TestParseSandboxArgsErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // in the error
	}{
		{"fault without rate", nil, []string{"--fault", "503"}, "KIND=RATE"},
		{"unknown fault kind", nil, []string{"--fault", "418=0.5"}, "unknown fault kind"},
		{"force status without status", nil, []string{"--force-status", "abc"}, "BUSINESSUNIT=STATUS"},
		{"forced unit not configured", nil, []string{"--force-status", "abc=403"}, "unknown business unit"},
		{"bad rate limit", nil, []string{"--rate-limit", "fast"}, "LIMIT/DURATION"},
		{"bad credentials", nil, []string{"--credentials", "nosecret"}, "KEY:SECRET"},
		{"zero token TTL", nil, []string{"--token-ttl", "0s"}, "TokenTTL"},
		{"bad environment value", map[string]string{"INVITEPIPE_SANDBOX_SEND_DELAY": "soon"}, nil, "INVITEPIPE_SANDBOX_SEND_DELAY"},
		{"bad list item in the environment", map[string]string{"INVITEPIPE_SANDBOX_CREDENTIALS": "a:1,nosecret"}, nil, `INVITEPIPE_SANDBOX_CREDENTIALS: invalid sandbox configuration: credentials "nosecret": want KEY:SECRET`},
		{"bad log level", map[string]string{"INVITEPIPE_SANDBOX_LOG_LEVEL": "loud"}, nil, `INVITEPIPE_SANDBOX_LOG_LEVEL: "loud" is not a level`},
		{"unknown flag", nil, []string{"--nope"}, "--help"},
		{"stray argument", nil, []string{"serve"}, `unexpected argument "serve"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setSandboxEnv(t, tt.env)
			_, err := parseSandboxArgs(tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestSandboxUsageListsEveryFlag(t *testing.T) {
	setSandboxEnv(t, map[string]string{"INVITEPIPE_SANDBOX_CREDENTIALS": "mine:t0psecret"})
	var out strings.Builder
	if _, err := parseSandboxArgs([]string{"--help"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v, want flag.ErrHelp", err)
	}
	usage := out.String()
	flags := regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(usage, -1)
	envs := regexp.MustCompile(`\(env (INVITEPIPE_SANDBOX_[A-Z_]+)\)`).FindAllStringSubmatch(usage, -1)
	table := regexp.MustCompile(`(?m)^INVITEPIPE_SANDBOX_[A-Z_]+ `).FindAllString(usage, -1)
	if len(flags) != 17 || len(envs) != 17 || len(table) != 17 {
		t.Fatalf("usage shows %d flags, %d naming their variable and %d variables, want 17 of each:\n%s", len(flags), len(envs), len(table), usage)
	}
	for _, want := range []string{
		"-addr string\n", `(default "127.0.0.1:8089")`,
		"(env INVITEPIPE_SANDBOX_CREDENTIALS)", "(default mine:***)", // the flag's default is the variable's value, secret hidden
		"(default 833/5m0s,10000/1h0m0s)", "(default 10/1m0s)", "(default 365)",
		"Environment:", "INVITEPIPE_SANDBOX_RATE_LIMIT", "833/5m,10000/1h",
	} {
		if !strings.Contains(usage, want) {
			t.Errorf("usage lacks %q:\n%s", want, usage)
		}
	}
	if strings.Contains(usage, "t0psecret") {
		t.Errorf("usage reveals the configured secret:\n%s", usage)
	}
}

func TestSandboxSessionHidesConfiguredSecrets(t *testing.T) {
	cfg := sandbox.DefaultConfig()
	var def strings.Builder
	writeSandboxSession(&def, cfg, "http://127.0.0.1:1")
	for _, want := range []string{"-u 'sandbox-api-key:sandbox-api-secret'", sandbox.DefaultBusinessUnitID, "x-business-user-id: " + sandbox.DefaultBusinessUserID} {
		if !strings.Contains(def.String(), want) {
			t.Errorf("session lacks %q:\n%s", want, def.String())
		}
	}
	cfg.Credentials = []sandbox.Credential{{APIKey: "mine", APISecret: "t0psecret"}}
	var own strings.Builder
	writeSandboxSession(&own, cfg, "http://127.0.0.1:1")
	if strings.Contains(own.String(), "t0psecret") {
		t.Fatalf("session shows a configured secret:\n%s", own.String())
	}
}

// TestRunSandboxServesUntilCancelled runs the command on a free loopback port, makes
// one call, and stops it.
func TestRunSandboxServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out sandboxOutput
	done := make(chan error, 1)
	go func() { done <- runSandbox(ctx, []string{"--addr", "127.0.0.1:0", "--log-level", "warn"}, &out) }()

	base := regexp.MustCompile(`(?m)^SANDBOX=(http://127\.0\.0\.1:\d+)$`)
	var url string
	deadline := time.Now().Add(10 * time.Second)
	for url == "" {
		select {
		case err := <-done:
			t.Fatalf("runSandbox ended early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session printed:\n%s", out.String())
		}
		if m := base.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp, err := http.Get(url + "/_sandbox/stats")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stats: status %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("runSandbox after cancel: %v, want nil", err)
	}
}

// setSandboxEnv sets env for the test and unsets every other INVITEPIPE_SANDBOX_*
// variable, so each case starts from the defaults.
func setSandboxEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, v := range config.Vars(&config.Sandbox{}) {
		t.Setenv(v.Name, "") // restored after the test
		if value, ok := env[v.Name]; ok {
			os.Setenv(v.Name, value)
		} else {
			os.Unsetenv(v.Name)
		}
	}
}

// sandboxOutput is an output safe to read while the command writes.
type sandboxOutput struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *sandboxOutput) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *sandboxOutput) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
