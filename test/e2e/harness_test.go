package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/dlq"
	"github.com/invitepipe/invitepipe/internal/sandbox"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// binary is the invitepipe binary built for this test run.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "invitepipe-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "invitepipe")
	build := exec.Command("go", "build", "-race", "-o", binary, "github.com/invitepipe/invitepipe/cmd/invitepipe")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building invitepipe:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// stack is one test's world: topics, a group, a sandbox and the settings of the
// consumers it starts. Names are unique per test, so tests share the services.
type stack struct {
	t         *testing.T
	brokers   []string
	topic     string
	dlqTopic  string
	group     string
	redisURL  string
	sandbox   *sandbox.Server
	sandboxTS *httptest.Server
	// businessUnit and destination are unique per test: the ledger and the rate limiter
	// key on them, so tests sharing Redis never see each other's state.
	businessUnit string
	destination  string
	activations  string // path of the activation file
	env          map[string]string
	client       *kafka.Client
}

// stackOptions shape a stack.
type stackOptions struct {
	partitions int
	// ratePer5Min is the destination's budget per 5 minutes (default: far above the load).
	rateLimit string // e.g. "{ per_5min: 50 }" in YAML; empty: very high
	sandbox   func(*sandbox.Config)
	env       map[string]string // extra consumer variables
}

func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	if o.partitions == 0 {
		o.partitions = 3
	}
	s := &stack{
		t:            t,
		brokers:      testenv.Kafka(t),
		redisURL:     testenv.RedisURL(t),
		topic:        testenv.UniqueName(t, "rows"),
		group:        testenv.UniqueName(t, "group"),
		businessUnit: strings.ReplaceAll(testenv.UniqueName(t, "bu"), ".", "-"),
		destination:  "dest-" + fmt.Sprintf("%08x", time.Now().UnixNano()&0xffffffff),
	}
	s.dlqTopic = s.topic + ".dlq"
	testenv.CreateTopic(t, s.brokers, s.topic, o.partitions)
	testenv.CreateTopic(t, s.brokers, s.dlqTopic, 1)
	s.client = &kafka.Client{Addr: kafka.TCP(s.brokers...), Timeout: 10 * time.Second}

	cfg := sandbox.DefaultConfig()
	cfg.BusinessUnits = []sandbox.BusinessUnit{{ID: s.businessUnit}}
	cfg.MintLimit = sandbox.RateWindow{} // consumers restart often here; each start mints
	cfg.RateLimits = nil
	cfg.SendDelay = 0
	cfg.FrequencyDays = 0
	if o.sandbox != nil {
		o.sandbox(&cfg)
	}
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.sandbox = sb
	s.sandboxTS = httptest.NewServer(sb.Handler())
	t.Cleanup(func() { sb.Close(); s.sandboxTS.Close() })

	rate := o.rateLimit
	if rate == "" {
		rate = "{ per_5min: 1000000, per_hour: 10000000 }"
	}
	s.activations = filepath.Join(t.TempDir(), "activations.yaml")
	file := fmt.Sprintf(activationFile, s.destination, s.businessUnit, rate, s.destination, s.destination, s.destination)
	if err := os.WriteFile(s.activations, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	s.env = map[string]string{
		"INVITEPIPE_ACTIVATIONS":                s.activations,
		"INVITEPIPE_KAFKA_BROKERS":              strings.Join(s.brokers, ","),
		"INVITEPIPE_KAFKA_TOPIC":                s.topic,
		"INVITEPIPE_KAFKA_DLQ_TOPIC":            s.dlqTopic,
		"INVITEPIPE_KAFKA_GROUP":                s.group,
		"INVITEPIPE_REDIS_URL":                  s.redisURL,
		"INVITEPIPE_TRUSTPILOT_API_URL":         s.sandboxTS.URL,
		"INVITEPIPE_TRUSTPILOT_INVITATIONS_URL": s.sandboxTS.URL,
		"INVITEPIPE_TRUSTPILOT_REQUEST_TIMEOUT": "2s",
		"INVITEPIPE_LEDGER_LEASE":               "5s",
		"INVITEPIPE_LOG_LEVEL":                  "info",
		"INVITEPIPE_KAFKA_SESSION_TIMEOUT":      "6s",
		"INVITEPIPE_DRAIN_TIMEOUT":              "3s",
		"INVITEPIPE_RETRY_BACKOFF":              "20ms",
		"INVITEPIPE_RETRY_BACKOFF_MAX":          "500ms",
		"INVITEPIPE_RETRY_MAX_ATTEMPTS":         "50",
		"INVITEPIPE_RETRY_MAX_ELAPSED":          "5m",
		"INVITEPIPE_DESTINATION_PROBE_INTERVAL": "500ms",
		"TP_KEY":                                sandbox.DefaultAPIKey,
		"TP_SECRET":                             sandbox.DefaultAPISecret,
		"TP_USER":                               sandbox.DefaultBusinessUserID,
	}
	for k, v := range o.env {
		s.env[k] = v
	}
	return s
}

// activationFile has three activations on one destination: service only (locale and
// tags from the row), product with a SKU per row, and both with fixed SKUs.
const activationFile = `
destinations:
  - name: %s
    business_unit_id: %s
    credentials: { api_key_env: TP_KEY, api_secret_env: TP_SECRET, business_user_id_env: TP_USER }
    rate_limit: %s
    defaults:
      service_template_id: tmpl-service
      sender_name: Shop
activations:
  - id: svc
    destination: %s
    invitation_type: service
    service: { redirect_uri: "https://shop.example/thanks" }
    mapping: { consumer_name: name, consumer_email: email, reference_number: order_id, locale: lang, tags: tags }
  - id: prod
    destination: %s
    invitation_type: product
    product: { template_id: tmpl-product, sku_per_row: true }
    mapping: { consumer_name: name, consumer_email: email, reference_number: order_id, product_sku: sku }
  - id: both
    destination: %s
    invitation_type: both
    service: { tags: [fixed] }
    product: { skus: [SKU-A, SKU-B] }
    reply_to: care@shop.example
    mapping: { consumer_name: name, consumer_email: email, reference_number: order_id, location_id: store }
`

// consumer is one `invitepipe consume` process.
type consumer struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	log   *lockedBuffer
	admin string // host:port of its admin server
	done  chan struct{}
	err   error
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start starts a consumer process and waits until its /readyz answers 200.
func (s *stack) start(name string) *consumer {
	s.t.Helper()
	c := s.launch(name)
	waitFor(s.t, 60*time.Second, "consumer "+name+" ready", func() bool {
		select {
		case <-c.done:
			s.t.Fatalf("consumer %s exited at start: %v\n%s", name, c.err, c.log.String())
		default:
		}
		return c.ready()
	})
	return c
}

// launch starts a consumer process without waiting for it to be ready.
func (s *stack) launch(name string) *consumer {
	s.t.Helper()
	admin := freeAddr(s.t)
	cmd := exec.Command(binary, "consume")
	cmd.Env = append(os.Environ(), "INVITEPIPE_ADMIN_ADDR="+admin)
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	c := &consumer{t: s.t, name: name, cmd: cmd, log: &lockedBuffer{}, admin: admin, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.log, c.log
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	s.t.Cleanup(func() {
		c.kill()
		if s.t.Failed() {
			s.t.Logf("--- log of consumer %s (last 4000 bytes):\n%s", c.name, tail(c.log.String(), 4000))
		}
	})
	return c
}

// ready reports whether the consumer's /readyz answers 200.
func (c *consumer) ready() bool {
	resp, err := http.Get("http://" + c.admin + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// kill ends the process with SIGKILL (no drain, no commit, no leave).
func (c *consumer) kill() {
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Kill()
	}
	<-c.done
}

// term sends SIGTERM and returns the exit error and how long the exit took.
func (c *consumer) term(within time.Duration) (error, time.Duration) {
	start := time.Now()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return c.err, time.Since(start)
	case <-time.After(within):
		c.t.Fatalf("consumer %s did not exit within %s of SIGTERM", c.name, within)
		return nil, 0
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// waitFor polls cond until it holds or within passes (then the test fails).
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, within, what, cond)
}

// record is one message to publish.
type record struct {
	key, value string
}

// produce publishes records and returns each partition's end offset.
func (s *stack) produce(records []record) map[int]int64 {
	s.t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(s.brokers...), Topic: s.topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchSize: 500, BatchTimeout: 5 * time.Millisecond}
	defer w.Close()
	msgs := make([]kafka.Message, len(records))
	for i, r := range records {
		msgs[i] = kafka.Message{Key: []byte(r.key), Value: []byte(r.value)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		s.t.Fatalf("produce: %v", err)
	}
	return s.ends()
}

// ends returns each partition's end offset.
func (s *stack) ends() map[int]int64 { return testenv.EndOffsets(s.t, s.client, s.topic) }

// committed returns the group's committed offsets.
func (s *stack) committed() map[int]int64 {
	ends := s.ends()
	partitions := make([]int, 0, len(ends))
	for p := range ends {
		partitions = append(partitions, p)
	}
	return testenv.CommittedOffsets(s.client, s.group, s.topic, partitions)
}

// waitCommitted waits until the group committed every partition to its end.
func (s *stack) waitCommitted(ends map[int]int64, within time.Duration) {
	s.t.Helper()
	testenv.WaitCommitted(s.t, s.client, s.group, s.topic, ends, within)
}

// deadLetters reads the DLQ topic until it holds n records, or fails after within.
func (s *stack) deadLetters(n int, within time.Duration) []dlq.Record {
	s.t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: s.brokers, Topic: s.dlqTopic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var out []dlq.Record
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			s.t.Fatalf("DLQ holds %d records after %s, want %d: %v", len(out), within, n, err)
		}
		rec, err := dlq.Parse(m)
		if err != nil {
			s.t.Fatalf("DLQ record at offset %d: %v", m.Offset, err)
		}
		out = append(out, rec)
	}
	return out
}

// dlqCount is the number of records on the DLQ topic.
func (s *stack) dlqCount() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{s.dlqTopic: {kafka.LastOffsetOf(0)}}})
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.Topics[s.dlqTopic][0].LastOffset
}

// sent returns, per reference number, the invitations the sandbox accepted.
func (s *stack) sent() map[string][]sandbox.Invitation {
	out := map[string][]sandbox.Invitation{}
	for _, inv := range s.sandbox.Invitations(s.businessUnit, "") {
		out[inv.ReferenceNumber] = append(out[inv.ReferenceNumber], inv)
	}
	return out
}
