package e2e

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	// apiKey is the API key of the single destination (the first one of a stack with
	// several), unique to the stack: the limiter keeps each key's cool-downs and learned
	// cap in Redis, so tests sharing a key (and Redis) would throttle each other.
	apiKey      string
	activations string // path of the activation file
	env         map[string]string
	client      *kafka.Client
	// dests are the destinations of a stack built from stackOptions.destinations, by
	// label; the first one is also businessUnit and destination.
	dests map[string]*dest
}

// stackOptions shape a stack.
type stackOptions struct {
	partitions int
	// ratePer5Min is the destination's budget per 5 minutes (default: far above the load).
	rateLimit string // e.g. "{ per_5min: 50 }" in YAML; empty: very high
	sandbox   func(*sandbox.Config)
	env       map[string]string // extra consumer variables
	// destinations, when set, replace the single destination and its three activations
	// (see destSpec); rateLimit is then ignored.
	destinations []destSpec
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
	s.apiKey = testenv.UniqueName(t, "key")
	apiSecret := "secret-" + s.apiKey
	cfg.Credentials = append(cfg.Credentials, sandbox.Credential{APIKey: s.apiKey, APISecret: apiSecret})
	if len(o.destinations) > 0 {
		s.planDestinations(o.destinations, &cfg)
	}
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
	if len(o.destinations) > 0 {
		file = s.destinationsFile(o.destinations)
	}
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
		"TP_KEY":                                s.apiKey,
		"TP_SECRET":                             apiSecret,
		"TP_USER":                               sandbox.DefaultBusinessUserID,
	}
	for _, d := range s.dests {
		s.env[d.keyEnv], s.env[d.secretEnv] = d.apiKey, d.apiSecret
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
	at         time.Time // the Kafka timestamp; zero: when it is produced
}

// produce publishes records and returns each partition's end offset.
func (s *stack) produce(records []record) map[int]int64 {
	s.t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(s.brokers...), Topic: s.topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchSize: 500, BatchTimeout: 5 * time.Millisecond}
	defer w.Close()
	msgs := make([]kafka.Message, len(records))
	for i, r := range records {
		msgs[i] = kafka.Message{Key: []byte(r.key), Value: []byte(r.value), Time: r.at}
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

// destSpec is one destination of a stack with several: its own business unit, its own
// API key or one shared with others, its own budget, and one service activation named
// by its label.
type destSpec struct {
	// label names the destination (dest-<label>-<suffix>), its activation (<label>) and
	// its credential variables (TP_KEY_<LABEL>, TP_SECRET_<LABEL>). Lower-case letters
	// and digits.
	label string
	// key names the API key: destinations with the same key use one API key value (held
	// in variables of different names) and so share one key budget; empty: a key of the
	// destination's own.
	key string
	// rateLimit is the destination's rate_limit in YAML; empty: no limit.
	rateLimit string
	// keyRateLimit is credentials.rate_limit in YAML; empty: absent (the key's budget
	// is then the destination's rate_limit).
	keyRateLimit string
	// maxAge is the activation's max_age; empty: absent.
	maxAge string
}

// dest is one destination of a stack built from destSpecs.
type dest struct {
	destSpec
	name         string
	businessUnit string
	apiKey       string
	apiSecret    string
	keyEnv       string
	secretEnv    string
}

// unlimited is a rate_limit no test reaches: counts of 1,000,000 or more mean no limit.
const unlimited = "{ per_5min: 1000000, per_hour: 10000000 }"

// planDestinations names every destination, business unit and API key of specs, all
// unique to this stack (the ledger keys on the business unit, the limiter on the API
// key, and tests share one Redis), and configures the sandbox to know them.
func (s *stack) planDestinations(specs []destSpec, cfg *sandbox.Config) {
	suffix := fmt.Sprintf("%08x", rand.Uint32())
	s.dests = map[string]*dest{}
	cfg.BusinessUnits = nil
	keys := map[string]bool{}
	for i, sp := range specs {
		if _, dup := s.dests[sp.label]; dup || sp.label == "" {
			s.t.Fatalf("destination label %q is empty or repeated", sp.label)
		}
		group := cmp.Or(sp.key, sp.label)
		d := &dest{
			destSpec:     sp,
			name:         "dest-" + sp.label + "-" + suffix,
			businessUnit: strings.ReplaceAll(testenv.UniqueName(s.t, "bu-"+sp.label), ".", "-"),
			apiKey:       "key-" + group + "-" + suffix,
			apiSecret:    "secret-" + group + "-" + suffix,
			keyEnv:       "TP_KEY_" + strings.ToUpper(sp.label),
			secretEnv:    "TP_SECRET_" + strings.ToUpper(sp.label),
		}
		s.dests[sp.label] = d
		cfg.BusinessUnits = append(cfg.BusinessUnits, sandbox.BusinessUnit{ID: d.businessUnit})
		if !keys[d.apiKey] {
			keys[d.apiKey] = true
			cfg.Credentials = append(cfg.Credentials, sandbox.Credential{APIKey: d.apiKey, APISecret: d.apiSecret})
		}
		if i == 0 {
			s.businessUnit, s.destination, s.apiKey = d.businessUnit, d.name, d.apiKey
		}
	}
}

// destinationsFile is the activation file of a stack built from specs: per destination,
// one service activation named by its label.
func (s *stack) destinationsFile(specs []destSpec) string {
	var b strings.Builder
	b.WriteString("destinations:\n")
	for _, sp := range specs {
		d := s.dests[sp.label]
		keyRate := ""
		if sp.keyRateLimit != "" {
			keyRate = ", rate_limit: " + sp.keyRateLimit
		}
		fmt.Fprintf(&b, `  - name: %s
    business_unit_id: %s
    credentials: { api_key_env: %s, api_secret_env: %s, business_user_id_env: TP_USER%s }
    rate_limit: %s
    defaults:
      service_template_id: tmpl-service
      sender_name: Shop
`, d.name, d.businessUnit, d.keyEnv, d.secretEnv, keyRate, cmp.Or(sp.rateLimit, unlimited))
	}
	b.WriteString("activations:\n")
	for _, sp := range specs {
		fmt.Fprintf(&b, `  - id: %s
    destination: %s
    invitation_type: service
    service: { redirect_uri: "https://shop.example/thanks" }
    mapping: { consumer_name: name, consumer_email: email, reference_number: order_id }
`, sp.label, s.dests[sp.label].name)
		if sp.maxAge != "" {
			fmt.Fprintf(&b, "    max_age: %s\n", sp.maxAge)
		}
	}
	return b.String()
}

// dest returns the destination labelled label.
func (s *stack) dest(label string) *dest {
	s.t.Helper()
	d := s.dests[label]
	if d == nil {
		s.t.Fatalf("the stack has no destination %q", label)
	}
	return d
}

// laneRows returns n rows of the activation of destination label, numbered from from on,
// and the invitation body each must become, by reference number. emitted is the row's
// emitted_at; the zero time leaves the field out (the row is then as old as its Kafka
// record).
func laneRows(label string, from, n int, emitted time.Time) ([]record, map[string]string) {
	recs := make([]record, 0, n)
	want := make(map[string]string, n)
	at := ""
	if !emitted.IsZero() {
		at = fmt.Sprintf(`"emitted_at":%q,`, emitted.UTC().Format(time.RFC3339Nano))
	}
	for i := from; i < from+n; i++ {
		ref := fmt.Sprintf("%s-%06d", strings.ToUpper(label), i)
		rowID := fmt.Sprintf("%s-row-%d", label, i)
		email := fmt.Sprintf("%s.%d@example.com", label, i)
		recs = append(recs, record{
			key:   label + "/" + rowID,
			value: fmt.Sprintf(`{"activation":%q,"row_id":%q,%s"row":{"order_id":%q,"name":"Name %d","email":%q}}`, label, rowID, at, ref, i, email),
		})
		want[ref] = fmt.Sprintf(`{"consumerEmail":%q,"consumerName":"Name %d","referenceNumber":%q,"senderName":"Shop","type":"email","serviceReviewInvitation":{"templateId":"tmpl-service","redirectUri":"https://shop.example/thanks"}}`, email, i, ref)
	}
	return recs, want
}

// interleave merges record streams evenly: each stream's records keep their order and
// are spread over the whole result in proportion to its length.
func interleave(streams ...[]record) []record {
	type pos struct {
		at   float64
		s, i int
	}
	var all []pos
	for s, recs := range streams {
		for i := range recs {
			all = append(all, pos{at: (float64(i) + 0.5) / float64(len(recs)), s: s, i: i})
		}
	}
	slices.SortStableFunc(all, func(a, b pos) int { return cmp.Compare(a.at, b.at) })
	out := make([]record, len(all))
	for k, p := range all {
		out[k] = streams[p.s][p.i]
	}
	return out
}

// sentTo returns, per reference number, the invitations the sandbox accepted for the
// business unit of destination label.
func (s *stack) sentTo(label string) map[string][]sandbox.Invitation {
	out := map[string][]sandbox.Invitation{}
	for _, inv := range s.sandbox.Invitations(s.dest(label).businessUnit, "") {
		out[inv.ReferenceNumber] = append(out[inv.ReferenceNumber], inv)
	}
	return out
}

// sentCount is how many invitations the sandbox accepted for destination label.
func (s *stack) sentCount(label string) int {
	return len(s.sandbox.Invitations(s.dest(label).businessUnit, ""))
}

// checkLaneSentOnce asserts that the sandbox accepted exactly one invitation per wanted
// reference of destination label, with exactly the wanted body, and nothing else for it.
func checkLaneSentOnce(t *testing.T, s *stack, label string, want map[string]string) {
	t.Helper()
	sent := s.sentTo(label)
	missing, doubled, wrong, extra := 0, 0, 0, 0
	for ref, body := range want {
		got := sent[ref]
		switch {
		case len(got) == 0:
			if missing++; missing <= 5 {
				t.Errorf("destination %s: reference %s was never sent", label, ref)
			}
		case len(got) > 1:
			if doubled++; doubled <= 5 {
				t.Errorf("destination %s: reference %s was sent %d times", label, ref, len(got))
			}
		case !sameJSON(got[0].Body, body):
			if wrong++; wrong <= 5 {
				t.Errorf("destination %s: reference %s: body\n%s\nwant\n%s", label, ref, got[0].Body, body)
			}
		}
	}
	for ref := range sent {
		if _, ok := want[ref]; !ok {
			if extra++; extra <= 5 {
				t.Errorf("destination %s got reference %s, which no row of it has", label, ref)
			}
		}
	}
	if missing+doubled+wrong+extra > 0 {
		t.Fatalf("destination %s: %d missing, %d sent more than once, %d with a wrong body, %d unexpected (of %d)", label, missing, doubled, wrong, extra, len(want))
	}
}

// located is where a message landed on the rows topic.
type located struct {
	partition int
	offset    int64
	key       string
}

// scan reads the whole rows topic up to ends and returns where each message is.
func (s *stack) scan(ends map[int]int64) []located {
	s.t.Helper()
	var out []located
	for p, end := range ends {
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: s.brokers, Topic: s.topic, Partition: p, MaxWait: 100 * time.Millisecond, MaxBytes: 4 << 20})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				cancel()
				r.Close()
				s.t.Fatalf("scan partition %d: %v", p, err)
			}
			out = append(out, located{partition: p, offset: m.Offset, key: string(m.Key)})
			if m.Offset >= end-1 {
				break
			}
		}
		cancel()
		r.Close()
	}
	return out
}

// firstOffsets returns, per partition, the offset of the first message whose key starts
// with prefix (partitions without one are absent).
func firstOffsets(msgs []located, prefix string) map[int]int64 {
	out := map[int]int64{}
	for _, m := range msgs {
		if !strings.HasPrefix(m.key, prefix) {
			continue
		}
		if o, ok := out[m.partition]; !ok || m.offset < o {
			out[m.partition] = m.offset
		}
	}
	return out
}

// checkCommitsHeldBelow asserts that no partition's commit has passed its first message
// of the held lane (first, from firstOffsets): deferred messages are never committed
// past.
func (s *stack) checkCommitsHeldBelow(first map[int]int64, what string) {
	s.t.Helper()
	for p, off := range s.committed() {
		if f, ok := first[p]; ok && off > f {
			s.t.Errorf("%s: partition %d committed to %d, past its first held message at %d", what, p, off, f)
		}
	}
}

// waitCommitsAt waits until every partition's commit is at its first message of the held
// lane (first, from firstOffsets): everything before it is done and committed, nothing
// from it on is. A commit past it fails at once.
func (s *stack) waitCommitsAt(first map[int]int64, what string) {
	s.t.Helper()
	waitFor(s.t, 20*time.Second, what+": commits at the first held message of each partition "+fmt.Sprint(first), func() bool {
		s.checkCommitsHeldBelow(first, what)
		if s.t.Failed() {
			s.t.FailNow()
		}
		got := s.committed()
		for p, f := range first {
			if got[p] != f {
				return false
			}
		}
		return true
	})
}

// metric is sample's value, or 0 when the consumer does not export that sample.
func (c *consumer) metric(t *testing.T, name, labels string) float64 {
	t.Helper()
	v, ok := sample(t, c, name, labels)
	if !ok {
		return 0
	}
	return v
}

// deferred is c's invitepipe_deferred_messages for destination d.
func (c *consumer) deferred(t *testing.T, d *dest) float64 {
	t.Helper()
	return c.metric(t, "invitepipe_deferred_messages", `destination="`+d.name+`"`)
}

// waiting is c's invitepipe_destination_waiting for destination d and reason.
func (c *consumer) waiting(t *testing.T, d *dest, reason string) float64 {
	t.Helper()
	return c.metric(t, "invitepipe_destination_waiting", `destination="`+d.name+`",reason="`+reason+`"`)
}
