package config

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestLoadConsumer(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		// want lists the lines of the error, in order; empty means valid.
		want []string
	}{
		{name: "defaults are valid"},
		{
			name: "broker without port",
			env:  map[string]string{"INVITEPIPE_KAFKA_BROKERS": "kafka-0,kafka-1:9092"},
			want: []string{`INVITEPIPE_KAFKA_BROKERS: "kafka-0" is not host:port; write each broker as host:port, e.g. kafka-0.kafka:9092`},
		},
		{
			name: "dlq topic equals rows topic",
			env:  map[string]string{"INVITEPIPE_KAFKA_TOPIC": "rows", "INVITEPIPE_KAFKA_DLQ_TOPIC": "rows"},
			want: []string{"INVITEPIPE_KAFKA_DLQ_TOPIC: is the rows topic; give the dead-letter topic its own name, e.g. rows.dlq"},
		},
		{
			name: "topic with a slash",
			env:  map[string]string{"INVITEPIPE_KAFKA_TOPIC": "rows/eu"},
			want: []string{`INVITEPIPE_KAFKA_TOPIC: "rows/eu" contains '/'; use 1 to 249 characters of letters, digits, '.', '_' and '-'`},
		},
		{
			name: "unknown SASL mechanism without credentials",
			env:  map[string]string{"INVITEPIPE_KAFKA_SASL_MECHANISM": "GSSAPI"},
			want: []string{
				`INVITEPIPE_KAFKA_SASL_MECHANISM: "GSSAPI" is not supported; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or leave it empty`,
				"INVITEPIPE_KAFKA_SASL_USERNAME: empty while a SASL mechanism is set; set the SASL username",
				"INVITEPIPE_KAFKA_SASL_PASSWORD: empty while a SASL mechanism is set; set the SASL password",
			},
		},
		{
			name: "CA file without TLS",
			env:  map[string]string{"INVITEPIPE_KAFKA_TLS_CA_FILE": "/etc/ca.pem"},
			want: []string{"INVITEPIPE_KAFKA_TLS_CA_FILE: set while TLS is off; set INVITEPIPE_KAFKA_TLS=true or unset the CA file"},
		},
		{
			name: "redis URL with a password is not echoed",
			env:  map[string]string{"INVITEPIPE_REDIS_URL": "http://:hunter2@redis:6379"},
			want: []string{`INVITEPIPE_REDIS_URL: "http://:xxxxx@redis:6379" is not a Redis URL for mode single; use redis://[:password@]host:port/db or rediss:// for TLS`},
		},
		{
			name: "unknown redis mode",
			env:  map[string]string{"INVITEPIPE_REDIS_MODE": "replicated"},
			want: []string{`INVITEPIPE_REDIS_MODE: "replicated" is not a mode; use single, cluster or sentinel`},
		},
		{
			name: "sentinel without a master name",
			env:  map[string]string{"INVITEPIPE_REDIS_MODE": "sentinel", "INVITEPIPE_REDIS_URL": "redis://sentinel-0:26379"},
			want: []string{`INVITEPIPE_REDIS_URL: "redis://sentinel-0:26379" is not a Redis URL for mode sentinel (sentinel mode needs ?master_name=); use redis://[:password@]host:port/db or rediss:// for TLS`},
		},
		{
			name: "invitations URL without scheme",
			env:  map[string]string{"INVITEPIPE_TRUSTPILOT_INVITATIONS_URL": "invitations-api.trustpilot.com"},
			want: []string{`INVITEPIPE_TRUSTPILOT_INVITATIONS_URL: "invitations-api.trustpilot.com" is not an http(s) URL; use an absolute http(s) URL without a path, e.g. https://invitations-api.trustpilot.com`},
		},
		{
			name: "bad duration",
			env:  map[string]string{"INVITEPIPE_LEDGER_LEASE": "2 minutes"},
			want: []string{`INVITEPIPE_LEDGER_LEASE: "2 minutes" is not a valid time.Duration; use a Go duration such as "30s", "2m" or "9600h"`},
		},
		{
			name: "lease not longer than the request timeout",
			env:  map[string]string{"INVITEPIPE_LEDGER_LEASE": "30s", "INVITEPIPE_TRUSTPILOT_REQUEST_TIMEOUT": "30s"},
			want: []string{"INVITEPIPE_LEDGER_LEASE: 30s is not longer than INVITEPIPE_TRUSTPILOT_REQUEST_TIMEOUT (30s); a reservation must outlive one call to Trustpilot: raise the lease or lower the timeout"},
		},
		{
			name: "unknown outcome policy, log level and admin address",
			env:  map[string]string{"INVITEPIPE_UNKNOWN_OUTCOME": "skip", "INVITEPIPE_LOG_LEVEL": "verbose", "INVITEPIPE_ADMIN_ADDR": "9090"},
			want: []string{
				`INVITEPIPE_LOG_LEVEL: "verbose" is not a level; use trace, debug, info, warn or error`,
				`INVITEPIPE_ADMIN_ADDR: "9090" is not [host]:port; use ":9090" or "127.0.0.1:9090"`,
				`INVITEPIPE_UNKNOWN_OUTCOME: "skip" is not a policy; use "dlq" (an operator decides) or "resend"`,
			},
		},
		{
			name: "drain not shorter than the session, backoff cap below its start",
			env:  map[string]string{"INVITEPIPE_DRAIN_TIMEOUT": "20s", "INVITEPIPE_RETRY_BACKOFF": "2m", "INVITEPIPE_CONCURRENCY": "0"},
			want: []string{
				"INVITEPIPE_CONCURRENCY: 0 is not positive; use a whole number of at least 1",
				"INVITEPIPE_RETRY_BACKOFF_MAX: 1m0s is below INVITEPIPE_RETRY_BACKOFF (2m0s); raise it",
				"INVITEPIPE_DRAIN_TIMEOUT: 20s is not shorter than INVITEPIPE_KAFKA_SESSION_TIMEOUT (20s); the final commit must happen while the group still counts this member: lower the drain or raise the session timeout",
			},
		},
		{
			name: "short retention",
			env:  map[string]string{"INVITEPIPE_LEDGER_RETENTION": "1h"},
			want: []string{`INVITEPIPE_LEDGER_RETENTION: 1h0m0s is shorter than a day; keep sent references at least as long as the account's invitation frequency, e.g. "9600h"`},
		},
		{
			name: "unprefixed variables are ignored",
			env:  map[string]string{"LOG_LEVEL": "verbose", "KAFKA_BROKERS": "nope", "INVITEPIPE_KAFKA_BROKERS": ""},
			want: []string{`INVITEPIPE_KAFKA_BROKERS: empty; list at least one broker as host:port`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var c Consumer
			err := Load(&c)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load succeeded, want %q", tt.want)
			}
			if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("error lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	var c Consumer
	if err := Load(&c); err != nil {
		t.Fatal(err)
	}
	if c.Topic != "invitepipe.rows" || c.DLQTopic != "invitepipe.rows.dlq" || c.Group != "invitepipe" ||
		len(c.Brokers) != 1 || c.Brokers[0] != "localhost:9092" || c.UnknownOutcome != "dlq" ||
		c.LedgerLease.String() != "2m0s" || c.Admin.Addr != ":9090" || c.Trustpilot.APIURL != "https://api.trustpilot.com" {
		t.Errorf("defaults differ from the documented ones: %+v", c)
	}
}

func TestStringRedactsSecrets(t *testing.T) {
	t.Setenv("INVITEPIPE_KAFKA_SASL_MECHANISM", "PLAIN")
	t.Setenv("INVITEPIPE_KAFKA_SASL_USERNAME", "svc")
	t.Setenv("INVITEPIPE_KAFKA_SASL_PASSWORD", "kafka-secret")
	t.Setenv("INVITEPIPE_REDIS_URL", "redis://:redis-secret@redis:6379/2")
	t.Setenv("INVITEPIPE_REDIS_PASSWORD", "other-secret")
	var c Consumer
	if err := Load(&c); err != nil {
		t.Fatal(err)
	}
	s := String(&c)
	for _, secret := range []string{"kafka-secret", "redis-secret", "other-secret"} {
		if strings.Contains(s, secret) {
			t.Errorf("String() reveals %q:\n%s", secret, s)
		}
	}
	for _, want := range []string{"svc", "redis://:xxxxx@redis:6379/2", "INVITEPIPE_REDIS_PASSWORD"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() lacks %q:\n%s", want, s)
		}
	}
	client, err := c.Redis.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if opt := client.(*redis.Client).Options(); opt.Password != "other-secret" || opt.DB != 2 {
		t.Errorf("client options = %+v; want the password override and db 2", opt)
	}
}

func TestRedisModes(t *testing.T) {
	tests := []struct {
		name, mode, url string
		wantAddrs       []string
	}{
		{"cluster with extra nodes", "cluster", "redis://:pw@redis-0:6379?addr=redis-1:6379&addr=redis-2:6379", []string{"redis-0:6379", "redis-1:6379", "redis-2:6379"}},
		{"sentinel", "sentinel", "redis://:pw@sentinel-0:26379?master_name=ledger&addr=sentinel-1:26379", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Redis{URL: tt.url, Mode: tt.mode, Password: "override"}
			client, err := r.Client()
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			switch c := client.(type) {
			case *redis.ClusterClient:
				if got := c.Options().Addrs; strings.Join(got, ",") != strings.Join(tt.wantAddrs, ",") || c.Options().Password != "override" {
					t.Errorf("cluster addrs %v password %q", got, c.Options().Password)
				}
			case *redis.Client:
				if tt.mode != "sentinel" {
					t.Errorf("mode %s gave a single-server client", tt.mode)
				}
			default:
				t.Errorf("mode %s gave %T", tt.mode, client)
			}
		})
	}
}

func TestUsageListsEveryVariableWithDefault(t *testing.T) {
	var b strings.Builder
	Usage(&b, &Consumer{})
	for _, want := range []string{"INVITEPIPE_KAFKA_BROKERS", "localhost:9092", "INVITEPIPE_LEDGER_LEASE", "2m", "INVITEPIPE_UNKNOWN_OUTCOME", "INVITEPIPE_REDIS_URL"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, b.String())
		}
	}
}
