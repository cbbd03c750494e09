package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/wiring"
)

// stopBudget bounds a consumer's drain and exit once asked to stop; past it a process
// is killed.
const stopBudget = 30 * time.Second

// consumers are the run's consumer: in this process, or child processes.
type consumers interface {
	// exited reports a consumer that stopped by itself (an error), or nil.
	exited() error
	// pids are the child processes; none in-process.
	pids() []int
	// trips returns the client's Redis round trips and commands sent, when counted.
	trips() (roundTrips, commands int64, ok bool)
	// stop stops every consumer and waits for it.
	stop() error
}

// inProcess is the consumer wired as `invitepipe consume` wires it, in this process.
type inProcess struct {
	parts   *wiring.Consumer
	counter *redisCounter
	cancel  context.CancelFunc
	done    chan error
	err     atomic.Pointer[error]
}

func startInProcess(ctx context.Context, cfg config.Consumer, f *activation.File, secrets map[string]string, o *Options) (*inProcess, error) {
	parts, err := wiring.New(cfg, f, wiring.Options{Lookup: lookupIn(secrets), Version: o.Version}, o.Log)
	if err != nil {
		return nil, fmt.Errorf("bench: consumer: %w", err)
	}
	c := &inProcess{parts: parts, counter: &redisCounter{}, done: make(chan error, 1)}
	parts.Redis.AddHook(c.counter)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	go func() {
		err := parts.Consumer.Run(runCtx)
		if err == nil && runCtx.Err() == nil {
			err = errors.New("stopped by itself")
		}
		if err != nil {
			err = fmt.Errorf("bench: consumer: %w", err)
			c.err.Store(&err)
		}
		c.done <- err
	}()
	return c, nil
}

// lookupIn answers the activation file's variables from secrets only.
func lookupIn(secrets map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := secrets[name]
		return v, ok
	}
}

func (c *inProcess) exited() error {
	if err := c.err.Load(); err != nil {
		return *err
	}
	return nil
}

func (c *inProcess) pids() []int { return nil }

func (c *inProcess) trips() (int64, int64, bool) {
	return c.counter.trips.Load(), c.counter.commands.Load(), true
}

func (c *inProcess) stop() error {
	c.cancel()
	err := <-c.done
	return errors.Join(err, c.parts.Close())
}

// redisCounter counts a client's round trips to Redis (a command, or a pipeline of
// them) and the commands it sends (a pipeline's each; a script call is one).
type redisCounter struct {
	trips, commands atomic.Int64
}

func (r *redisCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *redisCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.trips.Add(1)
		r.commands.Add(1)
		return next(ctx, cmd)
	}
}

func (r *redisCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.trips.Add(1)
		r.commands.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// processes are `invitepipe consume` child processes.
type processes struct {
	cmds []*exec.Cmd
	logs []string
	done []chan error
	err  atomic.Pointer[error]
}

// startProcesses starts n consumer processes with the environment they inherit plus
// the run's settings and vars (secrets among them); each writes its logs to
// consumer-<i>.log in dir.
func startProcesses(n int, command []string, cfg config.Consumer, vars map[string]string, dir string) (*processes, error) {
	env := append(os.Environ(),
		"INVITEPIPE_ACTIVATIONS="+cfg.Activations,
		"INVITEPIPE_LOG_LEVEL="+cfg.LogLevel,
		"INVITEPIPE_KAFKA_BROKERS="+strings.Join(cfg.Brokers, ","),
		"INVITEPIPE_KAFKA_TOPIC="+cfg.Topic,
		"INVITEPIPE_KAFKA_DLQ_TOPIC="+cfg.DLQTopic,
		"INVITEPIPE_KAFKA_GROUP="+cfg.Group,
		"INVITEPIPE_REDIS_URL="+cfg.Redis.URL,
		"INVITEPIPE_TRUSTPILOT_API_URL="+cfg.APIURL,
		"INVITEPIPE_TRUSTPILOT_INVITATIONS_URL="+cfg.InvitationsURL,
		"INVITEPIPE_ADMIN_ADDR="+cfg.Admin.Addr,
		"INVITEPIPE_LEDGER_RETENTION="+cfg.LedgerRetention.String(),
		"INVITEPIPE_DEFER_MAX_AGE="+cfg.DeferMaxAge.String(),
		"INVITEPIPE_WATCHDOG_TIMEOUT="+cfg.WatchdogTimeout.String(),
	)
	for name, v := range vars {
		env = append(env, name+"="+v)
	}
	p := &processes{}
	for i := range n {
		path := filepath.Join(dir, fmt.Sprintf("consumer-%d.log", i))
		out, err := os.Create(path)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("bench: consumer log: %w", err), p.stop())
		}
		cmd := exec.Command(command[0], command[1:]...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, out, out
		if err := cmd.Start(); err != nil {
			out.Close()
			return nil, errors.Join(fmt.Errorf("bench: start consumer process %q: %w", strings.Join(command, " "), err), p.stop())
		}
		done := make(chan error, 1)
		go func() {
			err := cmd.Wait()
			out.Close()
			if err == nil {
				err = errors.New("exited")
			}
			if !p.stopping() {
				err := fmt.Errorf("bench: consumer process %d (pid %d) stopped by itself: %w (its log: %s)", i, cmd.Process.Pid, err, path)
				p.err.CompareAndSwap(nil, &err)
			}
			done <- err
		}()
		p.cmds, p.logs, p.done = append(p.cmds, cmd), append(p.logs, path), append(p.done, done)
	}
	return p, nil
}

// errStopping marks processes being stopped on purpose.
var errStopping = errors.New("stopping")

func (p *processes) stopping() bool {
	err := p.err.Load()
	return err != nil && errors.Is(*err, errStopping)
}

func (p *processes) exited() error {
	if err := p.err.Load(); err != nil && !errors.Is(*err, errStopping) {
		return *err
	}
	return nil
}

func (p *processes) pids() []int {
	out := make([]int, len(p.cmds))
	for i, c := range p.cmds {
		out[i] = c.Process.Pid
	}
	return out
}

func (p *processes) trips() (int64, int64, bool) { return 0, 0, false }

// stop sends SIGTERM to every process (the consumer drains, commits and leaves the
// group), and kills those still running after stopBudget.
func (p *processes) stop() error {
	stopping := errStopping
	failed := !p.err.CompareAndSwap(nil, &stopping)
	for _, c := range p.cmds {
		_ = c.Process.Signal(syscall.SIGTERM)
	}
	var errs []error
	deadline := time.NewTimer(stopBudget)
	defer deadline.Stop()
	for i, done := range p.done {
		select {
		case err := <-done:
			var exit *exec.ExitError
			if !failed && errors.As(err, &exit) {
				errs = append(errs, fmt.Errorf("bench: consumer process %d: %w (its log: %s)", i, err, p.logs[i]))
			}
		case <-deadline.C:
			_ = p.cmds[i].Process.Kill()
			<-done
			errs = append(errs, fmt.Errorf("bench: consumer process %d did not stop within %s: killed (its log: %s)", i, stopBudget, p.logs[i]))
		}
	}
	return errors.Join(errs...)
}
