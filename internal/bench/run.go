package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/describegroups"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/embedded"
	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/producer"
	"github.com/invitepipe/invitepipe/internal/sandbox"
)

// ErrIncorrect is returned with the report of a run in which the sandbox accepted a
// reference more than once.
var ErrIncorrect = errors.New("bench: the sandbox accepted a reference more than once")

// Intervals of the run's waits.
const (
	pollEvery     = 100 * time.Millisecond
	progressEvery = time.Second
	topicTimeout  = 30 * time.Second
	writeChunk    = 1000 // messages per WriteMessages call when not paced
)

// runner is one run's state.
type runner struct {
	o   *Options
	run string
	dir string
	wl  *workload
	cfg config.Consumer
	// embeddedKafka and embeddedRedis report that the part runs in this process.
	embeddedKafka, embeddedRedis bool
	conn                         *kafkaconn.Conn
	sb                           *sandbox.Server
	closers                      []func()
}

// Run runs the bench and returns its report. The report is also returned with
// ErrIncorrect when the sandbox saw a duplicate; any other error means no report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.LedgerRetention == 0 {
		o.LedgerRetention = 24 * time.Hour
	}
	if o.Bucket == 0 {
		o.Bucket = time.Second
	}
	r := &runner{o: &o, run: strings.ToLower(strconv.FormatInt(time.Now().UnixMilli(), 36) + rand.Text()[:4])}
	defer r.close()
	rep, err := r.start(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w (run %s; activation file and logs in %s)", err, r.run, r.dir)
	}
	if !rep.Correct {
		return rep, fmt.Errorf("%w: %d references (run %s; logs in %s)", ErrIncorrect, rep.Correctness.SandboxDuplicates, r.run, r.dir)
	}
	r.cleanUp(ctx)
	return rep, nil
}

// start prepares every part, runs the consumers and measures them.
func (r *runner) start(ctx context.Context) (*Report, error) {
	if err := r.prepare(ctx); err != nil {
		return nil, err
	}
	f, err := activation.Load(r.cfg.Activations)
	if err != nil {
		return nil, err
	}
	cons, err := r.startConsumers(ctx, f)
	if err != nil {
		return nil, err
	}
	err = r.waitJoined(ctx, cons, max(r.o.Processes, 1))
	var rep *Report
	if err == nil {
		rep, err = r.measure(ctx, cons)
	}
	if err = errors.Join(err, cons.stop()); err != nil || !r.o.Replay || !rep.Correct {
		return rep, err
	}
	rep.Replay, err = r.replay(ctx, f)
	if rep.Replay != nil && rep.Replay.NewInvitations != 0 {
		rep.Correct = false
	}
	return rep, err
}

// startConsumers starts the consumers: in this process or as processes.
func (r *runner) startConsumers(ctx context.Context, f *activation.File) (consumers, error) {
	if r.o.Processes == 0 {
		return startInProcess(ctx, r.cfg, f, r.wl.secrets, r.o)
	}
	env, err := r.processEnv(ctx)
	if err != nil {
		return nil, err
	}
	return startProcesses(r.o.Processes, r.o.Command, r.cfg, env, r.dir)
}

// waitJoined returns once the group is stable with n members that hold every partition
// of the rows topic between them, so the run measures consumers at work, not starting.
func (r *runner) waitJoined(ctx context.Context, cons consumers, n int) error {
	ctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var (
		members, assigned int
		state             string
		err               error
	)
	for {
		if members, assigned, state, err = r.group(ctx); err == nil && state == "Stable" && members == n && assigned == r.o.Partitions {
			return nil
		}
		if err := cons.exited(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: consumer group %s: %d of %d members hold %d of %d partitions (state %q) after %s (last error: %v)",
				r.cfg.Group, members, n, assigned, r.o.Partitions, state, r.o.Timeout, err)
		case <-tick.C:
		}
	}
}

// group describes the consumer group: its members, the partitions of the rows topic
// assigned to them, and its state. It reads the raw DescribeGroups answer and decodes
// only the assignments: kafka-go's Client.DescribeGroups also decodes the members'
// metadata and refuses the newer versions other clients send (franz-go's, in a
// contender such as Benthos).
func (r *runner) group(ctx context.Context) (members, assigned int, state string, err error) {
	m, err := r.conn.Transport.RoundTrip(ctx, kafka.TCP(r.conn.Brokers...), &describegroups.Request{Groups: []string{r.cfg.Group}})
	if err != nil {
		return 0, 0, "", err
	}
	resp, ok := m.(*describegroups.Response)
	if !ok {
		return 0, 0, "", fmt.Errorf("DescribeGroups answered a %T", m)
	}
	for _, g := range resp.Groups {
		if g.ErrorCode != 0 {
			return 0, 0, "", kafka.Error(g.ErrorCode)
		}
		for _, member := range g.Members {
			n, err := assignedPartitions(member.MemberAssignment, r.cfg.Topic)
			if err != nil {
				return 0, 0, "", fmt.Errorf("group %s, member %s: %w", r.cfg.Group, member.MemberID, err)
			}
			assigned += n
		}
		members, state = len(g.Members), g.GroupState
	}
	return members, assigned, state, nil
}

// assignedPartitions counts the partitions of topic in a consumer protocol assignment
// (every version: int16 version, then an array of topic name and partition ids; the
// user data after it is not read). An empty assignment holds none.
func assignedPartitions(b []byte, topic string) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	errShort := errors.New("assignment cut short")
	take := func(n int) ([]byte, error) {
		if n < 0 || len(b) < n {
			return nil, errShort
		}
		v := b[:n]
		b = b[n:]
		return v, nil
	}
	if _, err := take(2); err != nil { // version
		return 0, err
	}
	v, err := take(4)
	if err != nil {
		return 0, err
	}
	total := 0
	for range int32(binary.BigEndian.Uint32(v)) {
		if v, err = take(2); err != nil {
			return 0, err
		}
		name, err := take(int(int16(binary.BigEndian.Uint16(v))))
		if err != nil {
			return 0, err
		}
		if v, err = take(4); err != nil {
			return 0, err
		}
		n := int(int32(binary.BigEndian.Uint32(v)))
		if _, err := take(4 * n); err != nil {
			return 0, err
		}
		if string(name) == topic {
			total += n
		}
	}
	return total, nil
}

// prepare writes the activation file and starts Kafka, Redis and the sandbox.
func (r *runner) prepare(ctx context.Context) error {
	r.dir = r.o.Dir
	if r.dir == "" {
		dir, err := os.MkdirTemp("", "invitepipe-bench-")
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		r.dir = dir
	} else if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return fmt.Errorf("bench: --dir: %w", err)
	}
	wl, err := newWorkload(r.o, r.run)
	if err != nil {
		return err
	}
	r.wl = wl
	r.cfg = r.o.Consumer
	r.cfg.Activations = filepath.Join(r.dir, "activations.yaml")
	if err := os.WriteFile(r.cfg.Activations, wl.file, 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if r.cfg.LogLevel == "" {
		r.cfg.LogLevel = "warn"
	}
	r.cfg.Admin.Addr = "127.0.0.1:0"
	r.cfg.LedgerRetention, r.cfg.DeferMaxAge, r.cfg.WatchdogTimeout = r.o.LedgerRetention, time.Hour, 0
	if err := r.startKafka(ctx); err != nil {
		return err
	}
	if err := r.startRedis(); err != nil {
		return err
	}
	if err := r.startSandbox(ctx); err != nil {
		return err
	}
	if err := r.cfg.Validate(); err != nil {
		return fmt.Errorf("bench: consumer settings: %w", err)
	}
	return nil
}

func (r *runner) startKafka(ctx context.Context) error {
	prefix := "invitepipe.bench." + r.run
	r.cfg.Topic, r.cfg.DLQTopic, r.cfg.Group = prefix+".rows", prefix+".rows.dlq", "invitepipe-bench-"+r.run
	if len(r.o.Kafka) == 0 {
		k, err := embedded.StartKafka(r.o.Partitions, r.cfg.Topic, r.cfg.DLQTopic)
		if err != nil {
			return err
		}
		r.closers = append(r.closers, k.Close)
		r.cfg.Brokers, r.embeddedKafka = k.Brokers(), true
	} else {
		r.cfg.Brokers = r.o.Kafka
	}
	conn, err := kafkaconn.New(r.cfg.Kafka)
	if err != nil {
		return err
	}
	r.conn = conn
	if r.embeddedKafka {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, topicTimeout)
	defer cancel()
	if err := r.conn.CreateTopics(ctx, r.o.Partitions, r.cfg.Topic, r.cfg.DLQTopic); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

func (r *runner) client() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(r.conn.Brokers...), Transport: r.conn.Transport}
}

func (r *runner) startRedis() error {
	if r.o.Redis != "" {
		r.cfg.Redis.URL = r.o.Redis
		return nil
	}
	rd, err := embedded.StartRedis()
	if err != nil {
		return err
	}
	r.closers = append(r.closers, rd.Close)
	r.cfg.Redis = config.Redis{URL: rd.URL(), Mode: "single"}
	r.embeddedRedis = true
	return nil
}

func (r *runner) startSandbox(ctx context.Context) error {
	cfg := r.wl.sandbox
	cfg.Addr = "127.0.0.1:0"
	sb, err := sandbox.New(cfg)
	if err != nil {
		return fmt.Errorf("bench: sandbox: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		sb.Close()
		return fmt.Errorf("bench: sandbox: %w", err)
	}
	serveCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- sb.Serve(serveCtx, ln) }()
	r.closers = append(r.closers, func() {
		stop()
		<-served
	})
	r.sb = sb
	base := "http://" + ln.Addr().String()
	r.cfg.Trustpilot.APIURL, r.cfg.Trustpilot.InvitationsURL = base, base
	return nil
}

// redisAddr is the host:port of the consumer's Redis URL.
func (r *runner) redisAddr() string {
	u, err := url.Parse(r.cfg.Redis.URL)
	if err != nil {
		return ""
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "6379")
	}
	return u.Host
}

// cleanUp deletes a real Kafka's topics of a correct run and its temporary directory.
func (r *runner) cleanUp(ctx context.Context) {
	if !r.embeddedKafka {
		ctx, cancel := context.WithTimeout(ctx, topicTimeout)
		defer cancel()
		_, _ = r.client().DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{r.cfg.Topic, r.cfg.DLQTopic}})
	}
	if r.o.Dir == "" {
		_ = os.RemoveAll(r.dir)
	}
}

// close stops what prepare started, in reverse order.
func (r *runner) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// write writes the rows, paced by Options.Rate, and records when each was emitted.
func (r *runner) write(ctx context.Context, emitted []time.Time) error {
	w := producer.NewWriter(r.conn, r.cfg.Topic, 0)
	defer w.Close()
	values := make([][]byte, len(r.wl.rows))
	chunk := writeChunk
	if r.o.Rate > 0 {
		chunk = max(1, int(r.o.Rate/20)) // 20 writes a second
	}
	start := time.Now()
	for from := 0; from < len(r.wl.rows); from += chunk {
		if r.o.Rate > 0 {
			due := start.Add(time.Duration(float64(from) / r.o.Rate * float64(time.Second)))
			if err := sleepUntil(ctx, due); err != nil {
				return err
			}
		}
		to := min(from+chunk, len(r.wl.rows))
		now := time.Now()
		msgs := make([]kafka.Message, 0, to-from)
		for k := from; k < to; k++ {
			m, err := r.wl.message(k, now, values)
			if err != nil {
				return err
			}
			emitted[k] = now
			msgs = append(msgs, m)
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("bench: write rows to %s: %w", r.cfg.Topic, err)
		}
	}
	return nil
}

// sleepUntil paces the writer: it returns at t or when ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// measure writes the rows, waits for every outcome and reads the parts' costs.
func (r *runner) measure(ctx context.Context, cons consumers) (*Report, error) {
	parts := r.parts(cons)
	redisBefore := r.redisCommands(ctx)
	emitted := make([]time.Time, len(r.wl.rows))
	start := time.Now()
	for i := range parts {
		parts[i].begin()
	}
	written := make(chan error, 1)
	writeCtx, stopWriting := context.WithCancel(ctx)
	defer stopWriting()
	go func() { written <- r.write(writeCtx, emitted) }()
	out, err := r.wait(ctx, cons, written)
	if err != nil {
		stopWriting()
		<-written
		return nil, err
	}
	for i := range parts {
		parts[i].finish()
	}
	rep := r.report(start, out, emitted, parts)
	rep.Redis = r.redisReport(ctx, redisBefore, cons, rep.Invitations.Accepted)
	return rep, nil
}

// outcome is the end of a run: when every row had its outcome, and the dead letters.
type outcome struct {
	end  time.Time
	dead int64
}

// wait returns when the sandbox accepted every valid row, the dead-letter topic holds
// every bad row and the group committed every row, or fails at the deadline.
func (r *runner) wait(ctx context.Context, cons consumers, written chan error) (outcome, error) {
	deadline := time.NewTimer(r.o.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var (
		allWritten   bool
		dead, lag    int64 = 0, -1
		lastProgress time.Time
		accepted     int
	)
	for {
		select {
		case <-ctx.Done():
			return outcome{}, ctx.Err()
		case <-deadline.C:
			return outcome{}, fmt.Errorf("bench: after %s (--timeout): %d of %d valid rows accepted, %d of %d bad rows dead-lettered, rows written: %t, group lag %d",
				r.o.Timeout, accepted, r.wl.valid, dead, r.wl.bad, allWritten, lag)
		case err := <-written:
			if err != nil {
				return outcome{}, err
			}
			allWritten = true
		case <-tick.C:
		}
		if err := cons.exited(); err != nil {
			return outcome{}, err
		}
		now := time.Now()
		accepted = r.sb.Stats().AcceptedInvitations
		if allWritten && accepted >= r.wl.valid {
			dead, lag = r.kafkaState(ctx)
			if dead >= int64(r.wl.bad) && lag == 0 {
				return outcome{end: now, dead: dead}, nil
			}
		}
		if r.o.Progress != nil && now.Sub(lastProgress) >= progressEvery {
			lastProgress = now
			fmt.Fprintf(r.o.Progress, "bench: %d/%d accepted\n", accepted, r.wl.valid)
		}
	}
}

// kafkaState returns the dead-letter records and the group's lag; -1 for what cannot
// be read now (the next poll tries again).
func (r *runner) kafkaState(ctx context.Context) (dead, lag int64) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	dead, lag = -1, -1
	if ranges, err := r.conn.Ranges(ctx, r.cfg.DLQTopic); err == nil {
		dead = 0
		for _, rg := range ranges {
			dead += rg.End - rg.First
		}
	}
	if l, err := r.conn.Lag(ctx, r.cfg.Group, r.cfg.Topic); err == nil {
		lag = l
	}
	return dead, lag
}
