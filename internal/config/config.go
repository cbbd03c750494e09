package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// Common holds what every command that reads the activation file needs.
type Common struct {
	// Activations is the path of the activation configuration. Default activations.yaml.
	Activations string `envconfig:"INVITEPIPE_ACTIVATIONS" default:"activations.yaml" desc:"path of the activation configuration (YAML)"`
	// LogLevel is a zerolog level: trace, debug, info, warn, error. Default info.
	LogLevel string `envconfig:"INVITEPIPE_LOG_LEVEL" default:"info" desc:"log level (trace, debug, info, warn, error); logs are JSON on stdout"`
}

// Kafka holds the connection to the brokers and the names of the topics and group.
type Kafka struct {
	// Brokers are the bootstrap brokers, host:port each. Default localhost:9092.
	Brokers []string `envconfig:"INVITEPIPE_KAFKA_BROKERS" default:"localhost:9092" desc:"comma-separated bootstrap brokers (host:port)"`
	// Topic is the rows topic. Default invitepipe.rows.
	Topic string `envconfig:"INVITEPIPE_KAFKA_TOPIC" default:"invitepipe.rows" desc:"rows topic"`
	// DLQTopic is the dead-letter topic. Default invitepipe.rows.dlq.
	DLQTopic string `envconfig:"INVITEPIPE_KAFKA_DLQ_TOPIC" default:"invitepipe.rows.dlq" desc:"dead-letter topic"`
	// Group is the consumer group. Default invitepipe.
	Group string `envconfig:"INVITEPIPE_KAFKA_GROUP" default:"invitepipe" desc:"consumer group"`
	// TLS turns on TLS to the brokers, verified against the system roots or TLSCAFile.
	// Default off.
	TLS bool `envconfig:"INVITEPIPE_KAFKA_TLS" default:"false" desc:"connect to the brokers with TLS"`
	// TLSCAFile is a PEM file of CAs that sign the brokers' certificates. Default: the
	// system roots.
	TLSCAFile string `envconfig:"INVITEPIPE_KAFKA_TLS_CA_FILE" desc:"PEM file of CAs for the brokers' certificates (default: system roots)"`
	// SASLMechanism is empty (no SASL), PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. Default off.
	SASLMechanism string `envconfig:"INVITEPIPE_KAFKA_SASL_MECHANISM" desc:"SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default: none)"`
	// SASLUsername is the SASL user; required with a mechanism.
	SASLUsername string `envconfig:"INVITEPIPE_KAFKA_SASL_USERNAME" desc:"SASL username"`
	// SASLPassword is the SASL password; required with a mechanism. Never printed.
	SASLPassword string `envconfig:"INVITEPIPE_KAFKA_SASL_PASSWORD" desc:"SASL password (secret)"`
}

// Redis holds the connection to the Redis that keeps the ledger, the shared rate limits
// and the producer's state.
type Redis struct {
	// URL is redis://[user:password@]host:port/db, or rediss:// for TLS. Default
	// redis://localhost:6379/0.
	URL string `envconfig:"INVITEPIPE_REDIS_URL" default:"redis://localhost:6379/0" desc:"ledger, rate limits, producer state: redis://[:password@]host:port/db (rediss:// for TLS)"`
	// Password overrides the password in URL, so the URL can live in a ConfigMap and the
	// password in a Secret. Never printed.
	Password string `envconfig:"INVITEPIPE_REDIS_PASSWORD" desc:"Redis password (secret; overrides the one in the URL)"`
	// Mode is single (one server), cluster (Redis Cluster: more nodes as addr=host:port
	// query parameters of URL) or sentinel (URL names sentinels and master_name=). Default
	// single.
	Mode string `envconfig:"INVITEPIPE_REDIS_MODE" default:"single" desc:"single, cluster (extra nodes as ?addr=host:port) or sentinel (sentinels in the URL, ?master_name=)"`
	// TLSCAFile is a PEM file of CAs that sign the Redis servers' certificates (sentinels
	// included); it needs a rediss:// URL. Default: the system roots.
	TLSCAFile string `envconfig:"INVITEPIPE_REDIS_TLS_CA_FILE" desc:"PEM file of CAs for the Redis servers' certificates, with rediss:// (default: system roots)"`
}

// Trustpilot holds the API hosts and the per-call timeout. Credentials are per
// destination and live in the variables the activation file names.
type Trustpilot struct {
	// APIURL is the host for tokens and business unit lookups. Default
	// https://api.trustpilot.com.
	APIURL string `envconfig:"INVITEPIPE_TRUSTPILOT_API_URL" default:"https://api.trustpilot.com" desc:"Trustpilot token host"`
	// InvitationsURL is the host for invitations and templates. Default
	// https://invitations-api.trustpilot.com.
	InvitationsURL string `envconfig:"INVITEPIPE_TRUSTPILOT_INVITATIONS_URL" default:"https://invitations-api.trustpilot.com" desc:"Trustpilot invitations host"`
	// RequestTimeout bounds one HTTP call to Trustpilot. Default 30s.
	RequestTimeout time.Duration `envconfig:"INVITEPIPE_TRUSTPILOT_REQUEST_TIMEOUT" default:"30s" desc:"timeout of one call to Trustpilot"`
}

// Admin holds the health and metrics server.
type Admin struct {
	// Addr is where /livez, /readyz and /metrics listen. Default :9090.
	Addr string `envconfig:"INVITEPIPE_ADMIN_ADDR" default:":9090" desc:"address of /livez, /readyz and /metrics"`
}

// Delivery holds the consumer's delivery policy.
type Delivery struct {
	// UnknownOutcome is what to do with a reservation that expired unconfirmed: dlq or
	// resend. Default dlq.
	UnknownOutcome string `envconfig:"INVITEPIPE_UNKNOWN_OUTCOME" default:"dlq" desc:"dlq or resend: what to do with an expired, unconfirmed reservation"`
	// LedgerLease is how long a reservation outlives a silent worker; it must be longer
	// than one call to Trustpilot with its timeout. Default 2m.
	LedgerLease time.Duration `envconfig:"INVITEPIPE_LEDGER_LEASE" default:"2m" desc:"how long a reservation outlives a silent worker; longer than one Trustpilot call"`
	// LedgerRetention is how long a confirmed reference is remembered. Default 9600h
	// (400 days: longer than Trustpilot's default once-a-year frequency).
	LedgerRetention time.Duration `envconfig:"INVITEPIPE_LEDGER_RETENTION" default:"9600h" desc:"how long a sent reference number is remembered (400 days)"`
}

// Processing holds the consumer's concurrency, retry budget and shutdown budget.
type Processing struct {
	// Concurrency bounds the messages handled at once by one process. Default 256.
	Concurrency int `envconfig:"INVITEPIPE_CONCURRENCY" default:"256" desc:"messages handled at once by one process"`
	// PartitionConcurrency bounds the messages of one partition handled at once. Default
	// 256, as many as the process: one partition alone can keep every call slot busy
	// (5,000 invitations/s at 20 ms per call need 100 in flight).
	PartitionConcurrency int `envconfig:"INVITEPIPE_PARTITION_CONCURRENCY" default:"256" desc:"messages of one partition handled at once"`
	// RetryMaxAttempts is how many calls a message may make before retries_exhausted.
	// Default 10.
	RetryMaxAttempts int `envconfig:"INVITEPIPE_RETRY_MAX_ATTEMPTS" default:"10" desc:"calls per message before it is dead-lettered as retries_exhausted"`
	// RetryMaxElapsed is how long a message may keep retrying before retries_exhausted.
	// Default 15m.
	RetryMaxElapsed time.Duration `envconfig:"INVITEPIPE_RETRY_MAX_ELAPSED" default:"15m" desc:"time a message may keep retrying before it is dead-lettered"`
	// RetryBackoff is the first retry's delay; it doubles per retry, with full jitter, up
	// to RetryBackoffMax. Default 1s.
	RetryBackoff time.Duration `envconfig:"INVITEPIPE_RETRY_BACKOFF" default:"1s" desc:"first retry delay; doubles per retry with jitter"`
	// RetryBackoffMax caps the retry delay. Default 1m.
	RetryBackoffMax time.Duration `envconfig:"INVITEPIPE_RETRY_BACKOFF_MAX" default:"1m" desc:"largest retry delay"`
	// ProbeInterval is how often a paused (misconfigured) destination is tried again
	// with one message. Default 30s.
	ProbeInterval time.Duration `envconfig:"INVITEPIPE_DESTINATION_PROBE_INTERVAL" default:"30s" desc:"how often a paused destination is tried again"`
	// DrainTimeout bounds the drain of in-flight messages at shutdown or rebalance.
	// Default 10s; keep the pod's grace period longer.
	DrainTimeout time.Duration `envconfig:"INVITEPIPE_DRAIN_TIMEOUT" default:"10s" desc:"how long in-flight messages may finish at shutdown (pod grace period must be longer)"`
	// SessionTimeout is how long the group waits for a silent member before moving its
	// partitions. Default 20s; must exceed DrainTimeout.
	SessionTimeout time.Duration `envconfig:"INVITEPIPE_KAFKA_SESSION_TIMEOUT" default:"20s" desc:"how long the group waits for a silent member"`
	// DeferMaxAge is how old a message waiting for its destination may grow before it is
	// dead-lettered as deferred_expired, so that Kafka's retention never deletes it
	// unseen. Default 0: half the rows topic's retention.ms, read at start (none when the
	// topic keeps messages forever). Keep it well below the retention.
	DeferMaxAge time.Duration `envconfig:"INVITEPIPE_DEFER_MAX_AGE" default:"0s" desc:"age at which a message waiting for its destination is dead-lettered as deferred_expired (0: half the topic's retention)"`
	// DeferBuffer bounds the waiting messages whose bodies one process keeps in memory;
	// past it a waiting message keeps only its offset and is read again from Kafka when
	// its destination is ready. Default 10000.
	DeferBuffer int `envconfig:"INVITEPIPE_DEFER_BUFFER" default:"10000" desc:"waiting messages whose bodies are kept in memory; the rest are read again from Kafka"`
	// RedisPipeline batches the Redis work of concurrent messages: the ledger's
	// reservations and confirmations that arrive while a batch is under way go out
	// together in the next one, one script call for many messages (per hash tag on a
	// Redis Cluster, the calls in one pipeline), so Redis pays a script call's cost once;
	// the rate limiter's slots go in pipelines (go-redis autopipelining). Default true.
	RedisPipeline bool `envconfig:"INVITEPIPE_REDIS_PIPELINE" default:"true" desc:"batch the ledger's Redis calls of concurrent messages into shared script calls, and pipeline the rate limiter's"`
	// RedisPipelineDelay is how long a batch may wait for more commands before it goes
	// (with INVITEPIPE_REDIS_PIPELINE): larger batches for less CPU, at that much latency
	// per command. Default 0s: no wait beyond a batch under way.
	RedisPipelineDelay time.Duration `envconfig:"INVITEPIPE_REDIS_PIPELINE_DELAY" default:"0s" desc:"how long a Redis batch may wait for more commands (0: none)"`
	// WatchdogTimeout: the process exits non-zero when nothing was fetched for this long
	// while the group has lag. Default 10m; 0 turns the watchdog off.
	WatchdogTimeout time.Duration `envconfig:"INVITEPIPE_WATCHDOG_TIMEOUT" default:"10m" desc:"exit when nothing is fetched this long while lag exists (0: off)"`
}

// Validate checks the bounds.
func (p *Processing) Validate() error {
	var ps problems
	positive := func(name string, v int) {
		if v < 1 {
			ps.add(name, fmt.Sprintf("%d is not positive", v), "use a whole number of at least 1")
		}
	}
	positive("INVITEPIPE_CONCURRENCY", p.Concurrency)
	positive("INVITEPIPE_PARTITION_CONCURRENCY", p.PartitionConcurrency)
	positive("INVITEPIPE_RETRY_MAX_ATTEMPTS", p.RetryMaxAttempts)
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"INVITEPIPE_RETRY_MAX_ELAPSED", p.RetryMaxElapsed}, {"INVITEPIPE_RETRY_BACKOFF", p.RetryBackoff},
		{"INVITEPIPE_RETRY_BACKOFF_MAX", p.RetryBackoffMax}, {"INVITEPIPE_DESTINATION_PROBE_INTERVAL", p.ProbeInterval},
		{"INVITEPIPE_DRAIN_TIMEOUT", p.DrainTimeout}, {"INVITEPIPE_KAFKA_SESSION_TIMEOUT", p.SessionTimeout},
	} {
		if d.v <= 0 {
			ps.add(d.name, fmt.Sprintf("%s is not positive", d.v), `use a duration such as "10s"`)
		}
	}
	if p.DeferMaxAge < 0 {
		ps.add("INVITEPIPE_DEFER_MAX_AGE", "is negative", `use a duration well below the topic's retention, e.g. "72h", or 0 for half the retention`)
	}
	if p.DeferBuffer < 0 {
		ps.add("INVITEPIPE_DEFER_BUFFER", fmt.Sprintf("%d is negative", p.DeferBuffer), "use 0 (read every waiting message again) or more")
	}
	if p.RedisPipelineDelay < 0 || p.RedisPipelineDelay > 10*time.Millisecond {
		ps.add("INVITEPIPE_REDIS_PIPELINE_DELAY", fmt.Sprintf("%s is not between 0s and 10ms", p.RedisPipelineDelay),
			"use 0s or a few hundred microseconds: every Redis command waits up to it, and a crash turns the calls of a longer wait into unknown outcomes")
	}
	if p.WatchdogTimeout < 0 {
		ps.add("INVITEPIPE_WATCHDOG_TIMEOUT", "is negative", `use a duration such as "10m", or 0 to turn the watchdog off`)
	}
	if p.RetryBackoffMax < p.RetryBackoff {
		ps.add("INVITEPIPE_RETRY_BACKOFF_MAX", fmt.Sprintf("%s is below INVITEPIPE_RETRY_BACKOFF (%s)", p.RetryBackoffMax, p.RetryBackoff), "raise it")
	}
	if p.DrainTimeout >= p.SessionTimeout {
		ps.add("INVITEPIPE_DRAIN_TIMEOUT", fmt.Sprintf("%s is not shorter than INVITEPIPE_KAFKA_SESSION_TIMEOUT (%s)", p.DrainTimeout, p.SessionTimeout),
			"the final commit must happen while the group still counts this member: lower the drain or raise the session timeout")
	}
	return ps.err()
}

// Consumer is the configuration of `invitepipe consume`.
type Consumer struct {
	Common
	Kafka
	Redis
	Trustpilot
	Admin
	Delivery
	Processing
}

// Load reads spec (a pointer to one of this package's command structs) from the
// environment and validates it. The error lists every problem, one per line.
func Load(spec Validator) error {
	if err := Read(spec); err != nil {
		return err
	}
	return spec.Validate()
}

// Read reads spec from the environment without validating it, for a command whose flags
// override its variables: it validates once the flags are parsed.
func Read(spec any) error {
	if err := envconfig.Process("", spec); err != nil {
		return envError(err)
	}
	return nil
}

// Validator is a configuration that can check itself.
type Validator interface {
	Validate() error
}

// envError turns envconfig's parse error into one that names the variable and the fix.
func envError(err error) error {
	var pe *envconfig.ParseError
	if !errors.As(err, &pe) {
		return err
	}
	hint := typeHint(pe.TypeName)
	if hint == "" {
		// A type that parses itself (a list, a rate window) says what is wrong in its own
		// words, secrets hidden: the value itself may hold one.
		return &FieldError{Var: pe.KeyName, Problem: pe.Err.Error()}
	}
	return &FieldError{Var: pe.KeyName, Problem: fmt.Sprintf("%q is not a valid %s", pe.Value, pe.TypeName), Fix: hint}
}

func typeHint(typeName string) string {
	switch typeName {
	case "time.Duration":
		return `use a Go duration such as "30s", "2m" or "9600h"`
	case "bool":
		return `use "true" or "false"`
	case "int":
		return "use a whole number"
	}
	return ""
}

// FieldError is one invalid variable.
type FieldError struct {
	Var     string // the environment variable, e.g. INVITEPIPE_KAFKA_BROKERS
	Problem string // what is wrong with its value
	Fix     string // what to set instead; may be empty
}

func (e *FieldError) Error() string {
	if e.Fix == "" {
		return e.Var + ": " + e.Problem
	}
	return e.Var + ": " + e.Problem + "; " + e.Fix
}

// problems collects FieldErrors in the order the checks run.
type problems []error

func (p *problems) add(v, problem, fix string) {
	*p = append(*p, &FieldError{Var: v, Problem: problem, Fix: fix})
}

func (p problems) err() error { return errors.Join(p...) }

// Validate checks the settings every command shares.
func (c *Common) Validate() error {
	var p problems
	if strings.TrimSpace(c.Activations) == "" {
		p.add("INVITEPIPE_ACTIVATIONS", "empty", "set the path of the activation file")
	}
	checkLogLevel(&p, "INVITEPIPE_LOG_LEVEL", c.LogLevel)
	return p.err()
}

// checkLogLevel adds a problem when variable name holds no zerolog level.
func checkLogLevel(p *problems, name, level string) {
	if _, err := zerolog.ParseLevel(level); err != nil || level == "" {
		p.add(name, fmt.Sprintf("%q is not a level", level), "use trace, debug, info, warn or error")
	}
}

// SASL mechanisms the consumer and producer support.
var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// Validate checks the broker addresses, topic names and security settings.
func (k *Kafka) Validate() error {
	var p problems
	if len(k.Brokers) == 0 {
		p.add("INVITEPIPE_KAFKA_BROKERS", "empty", "list at least one broker as host:port")
	}
	for _, b := range k.Brokers {
		if _, port, err := net.SplitHostPort(strings.TrimSpace(b)); err != nil || port == "" {
			p.add("INVITEPIPE_KAFKA_BROKERS", fmt.Sprintf("%q is not host:port", b), "write each broker as host:port, e.g. kafka-0.kafka:9092")
		}
	}
	for _, t := range []struct{ name, value string }{
		{"INVITEPIPE_KAFKA_TOPIC", k.Topic},
		{"INVITEPIPE_KAFKA_DLQ_TOPIC", k.DLQTopic},
		{"INVITEPIPE_KAFKA_GROUP", k.Group},
	} {
		if problem := checkKafkaName(t.value); problem != "" {
			p.add(t.name, problem, "use 1 to 249 characters of letters, digits, '.', '_' and '-'")
		}
	}
	if k.Topic != "" && k.Topic == k.DLQTopic {
		p.add("INVITEPIPE_KAFKA_DLQ_TOPIC", "is the rows topic", "give the dead-letter topic its own name, e.g. "+k.Topic+".dlq")
	}
	if k.SASLMechanism != "" {
		if !slices.Contains(saslMechanisms, k.SASLMechanism) {
			p.add("INVITEPIPE_KAFKA_SASL_MECHANISM", fmt.Sprintf("%q is not supported", k.SASLMechanism), "use "+strings.Join(saslMechanisms, ", ")+" or leave it empty")
		}
		if k.SASLUsername == "" {
			p.add("INVITEPIPE_KAFKA_SASL_USERNAME", "empty while a SASL mechanism is set", "set the SASL username")
		}
		if k.SASLPassword == "" {
			p.add("INVITEPIPE_KAFKA_SASL_PASSWORD", "empty while a SASL mechanism is set", "set the SASL password")
		}
	}
	if k.TLSCAFile != "" && !k.TLS {
		p.add("INVITEPIPE_KAFKA_TLS_CA_FILE", "set while TLS is off", "set INVITEPIPE_KAFKA_TLS=true or unset the CA file")
	}
	return p.err()
}

// checkKafkaName returns what is wrong with a topic or group name, or "".
func checkKafkaName(name string) string {
	switch {
	case name == "":
		return "empty"
	case len(name) > 249:
		return "longer than 249 characters"
	case name == "." || name == "..":
		return fmt.Sprintf("%q is reserved", name)
	}
	for _, r := range name {
		if !(r == '.' || r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fmt.Sprintf("%q contains %q", name, r)
		}
	}
	return ""
}

// Validate checks the mode, that the Redis URL parses for it and that the CA file, if any,
// is readable PEM used with TLS.
func (r *Redis) Validate() error {
	var p problems
	if _, err := r.Client(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			p = append(p, fe)
		} else {
			p.add("INVITEPIPE_REDIS_URL", err.Error(), "use redis://[:password@]host:port/db or rediss:// for TLS")
		}
	}
	return p.err()
}

// Client returns a client for URL in Mode with Password and TLSCAFile applied. It connects
// lazily: nothing is dialled until the first command.
func (r *Redis) Client() (redis.UniversalClient, error) {
	// go-redis quotes the URL, password included, in its errors: say what is wrong
	// without it.
	bad := fmt.Errorf("%q is not a Redis URL for mode %s", redactURL(r.URL), r.Mode)
	switch r.Mode {
	case "single", "":
		opt, err := redis.ParseURL(r.URL)
		if err != nil {
			return nil, bad
		}
		if err := r.apply(&opt.Password, opt.TLSConfig); err != nil {
			return nil, err
		}
		return redis.NewClient(opt), nil
	case "cluster":
		opt, err := redis.ParseClusterURL(r.URL)
		if err != nil {
			return nil, bad
		}
		if err := r.apply(&opt.Password, opt.TLSConfig); err != nil {
			return nil, err
		}
		return redis.NewClusterClient(opt), nil
	case "sentinel":
		opt, err := redis.ParseFailoverURL(r.URL)
		if err != nil || opt.MasterName == "" {
			return nil, fmt.Errorf("%w (sentinel mode needs ?master_name=)", bad)
		}
		if err := r.apply(&opt.Password, opt.TLSConfig); err != nil {
			return nil, err
		}
		return redis.NewFailoverClient(opt), nil
	}
	return nil, &FieldError{Var: "INVITEPIPE_REDIS_MODE", Problem: fmt.Sprintf("%q is not a mode", r.Mode), Fix: "use single, cluster or sentinel"}
}

// apply overrides the parsed password with Password, if set, and makes tlsConfig (nil unless
// the URL is rediss://) trust the CAs in TLSCAFile, if set.
func (r *Redis) apply(password *string, tlsConfig *tls.Config) error {
	if r.Password != "" {
		*password = r.Password
	}
	if r.TLSCAFile == "" {
		return nil
	}
	const caVar = "INVITEPIPE_REDIS_TLS_CA_FILE"
	if tlsConfig == nil {
		return &FieldError{Var: caVar, Problem: "set while the URL is not rediss://", Fix: "use a rediss:// URL for TLS or unset the CA file"}
	}
	pem, err := os.ReadFile(r.TLSCAFile)
	if err != nil {
		return &FieldError{Var: caVar, Problem: err.Error(), Fix: "name a readable PEM file of CA certificates"}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return &FieldError{Var: caVar, Problem: fmt.Sprintf("%s holds no PEM certificate", r.TLSCAFile), Fix: "name a PEM file of CA certificates (-----BEGIN CERTIFICATE-----)"}
	}
	tlsConfig.RootCAs = pool
	return nil
}

// Validate checks the API hosts and the timeout.
func (t *Trustpilot) Validate() error {
	var p problems
	for _, u := range []struct{ name, value string }{
		{"INVITEPIPE_TRUSTPILOT_API_URL", t.APIURL},
		{"INVITEPIPE_TRUSTPILOT_INVITATIONS_URL", t.InvitationsURL},
	} {
		if problem := checkBaseURL(u.value); problem != "" {
			p.add(u.name, problem, "use an absolute http(s) URL without a path, e.g. https://invitations-api.trustpilot.com")
		}
	}
	if t.RequestTimeout <= 0 {
		p.add("INVITEPIPE_TRUSTPILOT_REQUEST_TIMEOUT", fmt.Sprintf("%s is not positive", t.RequestTimeout), `use a duration such as "30s"`)
	}
	return p.err()
}

func checkBaseURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Sprintf("%q does not parse", raw)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Sprintf("%q is not an http(s) URL", raw)
	case u.Host == "":
		return fmt.Sprintf("%q has no host", raw)
	case u.User != nil:
		return "must not carry credentials"
	}
	return ""
}

// Validate checks the admin address.
func (a *Admin) Validate() error {
	var p problems
	if _, _, err := net.SplitHostPort(a.Addr); err != nil {
		p.add("INVITEPIPE_ADMIN_ADDR", fmt.Sprintf("%q is not [host]:port", a.Addr), `use ":9090" or "127.0.0.1:9090"`)
	}
	return p.err()
}

// Validate checks the delivery policy.
func (d *Delivery) Validate() error {
	var p problems
	if d.UnknownOutcome != "dlq" && d.UnknownOutcome != "resend" {
		p.add("INVITEPIPE_UNKNOWN_OUTCOME", fmt.Sprintf("%q is not a policy", d.UnknownOutcome), `use "dlq" (an operator decides) or "resend"`)
	}
	if d.LedgerLease <= 0 {
		p.add("INVITEPIPE_LEDGER_LEASE", fmt.Sprintf("%s is not positive", d.LedgerLease), `use a duration such as "2m"`)
	}
	if d.LedgerRetention < 24*time.Hour {
		p.add("INVITEPIPE_LEDGER_RETENTION", fmt.Sprintf("%s is shorter than a day", d.LedgerRetention), `keep sent references at least as long as the account's invitation frequency, e.g. "9600h"`)
	}
	return p.err()
}

// Validate checks every section and that the lease outlives one Trustpilot call.
func (c *Consumer) Validate() error {
	errs := []error{c.Common.Validate(), c.Kafka.Validate(), c.Redis.Validate(), c.Trustpilot.Validate(), c.Admin.Validate(), c.Delivery.Validate(), c.Processing.Validate()}
	if c.LedgerLease > 0 && c.RequestTimeout > 0 && c.LedgerLease <= c.RequestTimeout {
		errs = append(errs, &FieldError{
			Var:     "INVITEPIPE_LEDGER_LEASE",
			Problem: fmt.Sprintf("%s is not longer than INVITEPIPE_TRUSTPILOT_REQUEST_TIMEOUT (%s)", c.LedgerLease, c.RequestTimeout),
			Fix:     "a reservation must outlive one call to Trustpilot: raise the lease or lower the timeout",
		})
	}
	return errors.Join(errs...)
}

// String lists every variable with its value, secrets redacted, one per line.
func String(spec any) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	eachVar(reflect.ValueOf(spec).Elem(), func(f reflect.StructField, v reflect.Value) {
		fmt.Fprintf(w, "%s\t%s\n", f.Tag.Get("envconfig"), displayValue(f, v))
	})
	w.Flush()
	return b.String()
}

// eachVar calls fn for every tagged field, descending into embedded sections.
func eachVar(v reflect.Value, fn func(reflect.StructField, reflect.Value)) {
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			eachVar(v.Field(i), fn)
			continue
		}
		if f.Tag.Get("envconfig") != "" {
			fn(f, v.Field(i))
		}
	}
}

func displayValue(f reflect.StructField, v reflect.Value) string {
	name := f.Tag.Get("envconfig")
	switch {
	case strings.HasSuffix(name, "_PASSWORD"):
		if v.String() == "" {
			return ""
		}
		return "REDACTED"
	case strings.HasSuffix(name, "_URL"):
		return redactURL(v.String())
	case v.Kind() == reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(v.Index(i).Interface())
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v.Interface())
}

// redactURL hides the password of a URL, if it has one.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "@") {
			return "REDACTED (unparsable URL with credentials)"
		}
		return raw
	}
	return u.Redacted()
}

// Usage writes the variables of spec with their defaults and meanings, for --help.
func Usage(w io.Writer, spec any) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tDEFAULT\tMEANING")
	for _, v := range Vars(spec) {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, v.Default, v.Desc)
	}
	tw.Flush()
}

// Var is one INVITEPIPE_* variable of a configuration struct, as its tags declare it.
type Var struct {
	Name    string // the variable, e.g. INVITEPIPE_KAFKA_BROKERS
	Default string // its default as text; "" when it has none
	Desc    string // what it means
	// Flag is the command-line flag that overrides the variable (tag flag, without
	// dashes); "" when none does.
	Flag string
	// Field points at the field of spec that holds the value, e.g. a *time.Duration.
	Field any
}

// Vars lists the variables of spec, a pointer to a configuration struct, in field order
// (embedded sections in place).
func Vars(spec any) []Var {
	var out []Var
	eachVar(reflect.ValueOf(spec).Elem(), func(f reflect.StructField, v reflect.Value) {
		out = append(out, Var{
			Name:    f.Tag.Get("envconfig"),
			Default: f.Tag.Get("default"),
			Desc:    f.Tag.Get("desc"),
			Flag:    f.Tag.Get("flag"),
			Field:   v.Addr().Interface(),
		})
	})
	return out
}

// Check is the configuration of `invitepipe check`.
type Check struct {
	Common
	Trustpilot
}

// Validate checks every section.
func (c *Check) Validate() error {
	return errors.Join(c.Common.Validate(), c.Trustpilot.Validate())
}

// Production holds the producer's own settings.
type Production struct {
	// BatchSize is how many rows are checked against the state, written to Kafka and
	// recorded together. Default 500.
	BatchSize int `envconfig:"INVITEPIPE_PRODUCER_BATCH_SIZE" default:"500" desc:"rows checked, written to Kafka and recorded together"`
	// LockLease is how long an activation's lock outlives a silent run; a live run renews
	// it every third of the lease. Default 30s.
	LockLease time.Duration `envconfig:"INVITEPIPE_PRODUCER_LOCK_LEASE" default:"30s" desc:"how long an activation's lock outlives a silent run (renewed every third of it)"`
}

// Validate checks the bounds.
func (p *Production) Validate() error {
	var ps problems
	if p.BatchSize < 1 || p.BatchSize > 10000 {
		ps.add("INVITEPIPE_PRODUCER_BATCH_SIZE", fmt.Sprintf("%d is not between 1 and 10000", p.BatchSize), "use e.g. 500")
	}
	if p.LockLease < 3*time.Second {
		ps.add("INVITEPIPE_PRODUCER_LOCK_LEASE", fmt.Sprintf("%s is shorter than 3s", p.LockLease), `use a duration such as "30s"`)
	}
	return ps.err()
}

// Producer is the configuration of `invitepipe produce`.
type Producer struct {
	Common
	Kafka
	Redis
	Production
}

// Validate checks every section.
func (c *Producer) Validate() error {
	return errors.Join(c.Common.Validate(), c.Kafka.Validate(), c.Redis.Validate(), c.Production.Validate())
}
