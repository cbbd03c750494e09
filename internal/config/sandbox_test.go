package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/sandbox"
)

// setEnv sets env for the test and unsets every other variable of spec.
func setEnv(t *testing.T, spec any, env map[string]string) {
	t.Helper()
	for _, v := range Vars(spec) {
		t.Setenv(v.Name, "") // restored after the test
		if value, ok := env[v.Name]; ok {
			os.Setenv(v.Name, value)
		} else {
			os.Unsetenv(v.Name)
		}
	}
}

func TestLoadSandbox(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, c sandbox.Config)
		err   string // in the error; "" when valid
	}{
		{
			name: "defaults are sandbox.DefaultConfig",
			check: func(t *testing.T, c sandbox.Config) {
				if !reflect.DeepEqual(c, sandbox.DefaultConfig()) {
					t.Fatalf("config %+v\nwant     %+v", c, sandbox.DefaultConfig())
				}
			},
		},
		{
			name: "lists are trimmed, blanks skipped, an empty value is an empty list",
			env: map[string]string{
				"INVITEPIPE_SANDBOX_CREDENTIALS":    " a:1, ,b:2 ",
				"INVITEPIPE_SANDBOX_BUSINESS_USERS": "",
				"INVITEPIPE_SANDBOX_RATE_LIMIT":     "",
				"INVITEPIPE_SANDBOX_FAULTS":         "503=0.1, 520=0.2",
				"INVITEPIPE_SANDBOX_FORCE_STATUS":   sandbox.DefaultBusinessUnitID + "=403:1014",
			},
			check: func(t *testing.T, c sandbox.Config) {
				want := []sandbox.Credential{{APIKey: "a", APISecret: "1"}, {APIKey: "b", APISecret: "2"}}
				switch {
				case !reflect.DeepEqual(c.Credentials, want):
					t.Fatalf("credentials %v", c.Credentials)
				case c.BusinessUsers != nil || c.RateLimits != nil:
					t.Fatalf("business users %v, rate limits %v; want none", c.BusinessUsers, c.RateLimits)
				case !reflect.DeepEqual(c.Faults.Rates, map[sandbox.FaultKind]float64{sandbox.Fault503: 0.1, sandbox.Fault520: 0.2}):
					t.Fatalf("fault rates %v", c.Faults.Rates)
				case c.Faults.Forced[sandbox.DefaultBusinessUnitID] != (sandbox.ForcedStatus{Status: 403, ErrorCode: 1014}):
					t.Fatalf("forced %v", c.Faults.Forced)
				}
			},
		},
		{
			name: "durations and the mint limit",
			env:  map[string]string{"INVITEPIPE_SANDBOX_TOKEN_TTL": "2s", "INVITEPIPE_SANDBOX_MINT_LIMIT": "off", "INVITEPIPE_SANDBOX_LATENCY_MAX": "5ms"},
			check: func(t *testing.T, c sandbox.Config) {
				if c.TokenTTL != 2*time.Second || c.MintLimit != (sandbox.RateWindow{}) || c.Faults.LatencyMax != 5*time.Millisecond {
					t.Fatalf("config %+v", c)
				}
			},
		},
		{
			name: "a bad list item is named with its variable, its secret hidden",
			env:  map[string]string{"INVITEPIPE_SANDBOX_USERS": "ann:pw,bob"},
			err:  `INVITEPIPE_SANDBOX_USERS: invalid sandbox configuration: user "bob": want NAME:PASSWORD`,
		},
		{
			name: "a bad fault",
			env:  map[string]string{"INVITEPIPE_SANDBOX_FAULTS": "503"},
			err:  `INVITEPIPE_SANDBOX_FAULTS: fault "503": want KIND=RATE such as 503=0.1`,
		},
		{
			name: "a bad forced status",
			env:  map[string]string{"INVITEPIPE_SANDBOX_FORCE_STATUS": "abc=x"},
			err:  `INVITEPIPE_SANDBOX_FORCE_STATUS: force-status "abc=x": want BUSINESSUNIT=STATUS[:ERRORCODE]`,
		},
		{
			name: "a bad duration",
			env:  map[string]string{"INVITEPIPE_SANDBOX_SEND_DELAY": "soon"},
			err:  `INVITEPIPE_SANDBOX_SEND_DELAY: "soon" is not a valid time.Duration; use a Go duration`,
		},
		{
			name: "sandbox checks and the log level, all at once",
			env:  map[string]string{"INVITEPIPE_SANDBOX_LOG_LEVEL": "loud", "INVITEPIPE_SANDBOX_FREQUENCY_DAYS": "-1"},
			err:  `INVITEPIPE_SANDBOX_LOG_LEVEL: "loud" is not a level; use trace, debug, info, warn or error` + "\n" + "invalid sandbox configuration: FrequencyDays is -1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Sandbox
			setEnv(t, &c, tt.env)
			err := Load(&c)
			if tt.err == "" && err != nil {
				t.Fatalf("Load: %v", err)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Load error = %v, want it to contain %q", err, tt.err)
				}
				if strings.Contains(err.Error(), ":pw") {
					t.Fatalf("error reveals a password: %v", err)
				}
				return
			}
			tt.check(t, c.Config())
		})
	}
}
