package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/destination"
	"github.com/invitepipe/invitepipe/internal/embedded"
	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/sandbox"
)

// Names of the embedded Kafka's topics and group.
const (
	rowsTopic = "invitepipe.demo.rows"
	dlqTopic  = "invitepipe.demo.rows.dlq"
	group     = "invitepipe-demo"
)

// topicTimeout bounds creating the topics on a real Kafka.
const topicTimeout = 30 * time.Second

// environment is the parts the demo started or points at, and how to reach them.
type environment struct {
	cfg    config.Consumer
	lookup destination.LookupEnv
	// sandbox is the embedded sandbox; nil against another Trustpilot.
	sandbox    *sandbox.Server
	units      map[string]string // destination name -> business unit id
	historyURL string
	// What each part is, for the first line of output.
	kafkaText, redisText, trustpilotText string
	closers                              []func()
}

// start starts the embedded parts and points the consumer's settings at every part. The
// environment it returns is never nil: close it, also after an error.
func start(ctx context.Context, f *activation.File, opts Options) (*environment, error) {
	env := &environment{cfg: opts.Consumer, lookup: os.LookupEnv, units: map[string]string{}}
	for _, d := range f.Destinations {
		env.units[d.Name] = d.BusinessUnitID
	}
	if err := env.startKafka(ctx, opts); err != nil {
		return env, err
	}
	if err := env.startRedis(opts); err != nil {
		return env, err
	}
	if err := env.startTrustpilot(ctx, f, opts); err != nil {
		return env, err
	}
	if err := env.cfg.Validate(); err != nil {
		return env, err
	}
	return env, nil
}

func (e *environment) startKafka(ctx context.Context, opts Options) error {
	if len(opts.Kafka) == 0 {
		k, err := embedded.StartKafka(opts.Partitions, rowsTopic, dlqTopic)
		if err != nil {
			return err
		}
		e.closers = append(e.closers, k.Close)
		e.cfg.Kafka = config.Kafka{Brokers: k.Brokers(), Topic: rowsTopic, DLQTopic: dlqTopic, Group: group}
		e.kafkaText = "embedded Kafka on " + strings.Join(k.Brokers(), ",")
		return nil
	}
	run := strconv.FormatInt(time.Now().UnixMilli(), 36)
	e.cfg.Brokers = opts.Kafka
	e.cfg.Topic, e.cfg.DLQTopic, e.cfg.Group = rowsTopic+"-"+run, dlqTopic+"-"+run, group+"-"+run
	conn, err := kafkaconn.New(e.cfg.Kafka)
	if err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(ctx, topicTimeout)
	defer cancel()
	if err := conn.CreateTopics(tctx, opts.Partitions, e.cfg.Topic, e.cfg.DLQTopic); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	e.kafkaText = fmt.Sprintf("Kafka on %s (topics %s, %s)", strings.Join(opts.Kafka, ","), e.cfg.Topic, e.cfg.DLQTopic)
	return nil
}

func (e *environment) startRedis(opts Options) error {
	if opts.Redis != "" {
		e.cfg.Redis.URL = opts.Redis
		e.redisText = "Redis at " + redactURL(opts.Redis)
		return nil
	}
	r, err := embedded.StartRedis()
	if err != nil {
		return err
	}
	e.closers = append(e.closers, r.Close)
	e.cfg.Redis = config.Redis{URL: r.URL(), Mode: "single"}
	e.redisText = "embedded Redis at " + r.URL()
	return nil
}

// redactURL hides a password in a URL.
func redactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	userinfo, host, hasUser := strings.Cut(rest, "@")
	if !ok || !hasUser || !strings.Contains(userinfo, ":") {
		return s
	}
	user, _, _ := strings.Cut(userinfo, ":")
	return scheme + "://" + user + ":***@" + host
}

func (e *environment) startTrustpilot(ctx context.Context, f *activation.File, opts Options) error {
	if opts.Trustpilot != "" {
		e.cfg.Trustpilot.APIURL, e.cfg.Trustpilot.InvitationsURL = opts.Trustpilot, opts.TrustpilotInvitations
		e.trustpilotText = "Trustpilot at " + opts.Trustpilot
		return nil
	}
	cfg, secrets := sandboxConfig(f, opts.SandboxAddr)
	sb, err := sandbox.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		sb.Close()
		return fmt.Errorf("sandbox: listen on %s: %w (another sandbox or demo running? stop it, or pick another address with --sandbox-addr, e.g. 127.0.0.1:0)", cfg.Addr, err)
	}
	serveCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- sb.Serve(serveCtx, ln) }()
	e.closers = append(e.closers, func() {
		stop()
		<-served
	})
	base := "http://" + ln.Addr().String()
	e.sandbox, e.historyURL = sb, base+"/"
	e.cfg.Trustpilot.APIURL, e.cfg.Trustpilot.InvitationsURL = base, base
	e.lookup = secrets.lookup
	e.trustpilotText = "embedded Trustpilot sandbox at " + base
	return nil
}

// throttle has the embedded sandbox answer 429 to t's destination until t.For after
// its first 429 answer (throttled counts them), so the destination's rows wait however
// long the consumer took to start.
func (e *environment) throttle(t Throttle, throttled func() int64) {
	if e.sandbox == nil || t.Destination == "" || t.For <= 0 {
		return
	}
	unit := e.units[t.Destination]
	// The sandbox was built from the file's destinations, so the unit is known and
	// SetFaults cannot fail.
	_ = e.sandbox.SetFaults(sandbox.Faults{Forced: map[string]sandbox.ForcedStatus{unit: {Status: 429, Message: "Too many requests"}}})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = e.sandbox.SetFaults(sandbox.Faults{}) }()
		tick := time.NewTicker(watchTick)
		defer tick.Stop()
		for throttled() == 0 {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
		timer := time.NewTimer(t.For)
		defer timer.Stop()
		select {
		case <-stop:
		case <-timer.C:
		}
	}()
	e.closers = append(e.closers, func() {
		close(stop)
		<-done
	})
}

// close stops what start started, in reverse order.
func (e *environment) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	e.closers = nil
}

// checkThrottle reports a throttle that names no destination of f.
func checkThrottle(f *activation.File, t Throttle) error {
	if t.Destination == "" {
		return nil
	}
	if _, ok := f.Destination(t.Destination); ok {
		return nil
	}
	names := make([]string, len(f.Destinations))
	for i, d := range f.Destinations {
		names[i] = d.Name
	}
	return errors.New("throttle: no destination " + strconv.Quote(t.Destination) + " in the activation file (destinations: " + strings.Join(names, ", ") + ")")
}
