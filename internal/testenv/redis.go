package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// privateRedisPassword is the password of every Redis from StartRedis.
const privateRedisPassword = "invitepipe-test"

// redisTimeout bounds how long a private Redis may take to answer after Start or to exit
// after Stop.
const redisTimeout = 15 * time.Second

// Redis is a redis-server that belongs to one test, for tests that stop and restart Redis
// while the code under test runs. It appends every write to its AOF and Stop shuts it down
// gracefully, so Stop followed by Start keeps all acknowledged data.
type Redis struct {
	// URL is the server's redis:// URL, password included; it stays the same across restarts.
	URL string

	port    string
	dir     string
	process *os.Process
	exited  chan error // receives the result of Wait; nil while stopped
}

// StartRedis starts a private redis-server on a free loopback port with its data in a
// temporary directory, and stops it when the test ends. Without a redis-server program the
// test fails on CI and skips elsewhere.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		unavailable(t, "redis-server is not installed")
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: find a free port: %v", err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	r := &Redis{
		URL:  fmt.Sprintf("redis://:%s@127.0.0.1:%s/0", privateRedisPassword, port),
		port: port,
		dir:  t.TempDir(),
	}
	t.Cleanup(func() {
		if r.exited != nil {
			r.Stop(t)
		}
	})
	r.Start(t)
	return r
}

// Start starts the stopped server on its port and data, and waits until it answers PING.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	if r.exited != nil {
		t.Fatalf("testenv: Redis on port %s is already running", r.port)
	}
	logPath := filepath.Join(r.dir, "redis.log")
	cmd := exec.Command("redis-server",
		"--bind", "127.0.0.1", "--port", r.port, "--requirepass", privateRedisPassword,
		"--appendonly", "yes", "--save", "", "--dir", r.dir, "--logfile", logPath)
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start redis-server: %v", err)
	}
	r.process = cmd.Process
	r.exited = make(chan error, 1)
	go func(exited chan<- error) { exited <- cmd.Wait() }(r.exited)

	opts, err := redis.ParseURL(r.URL)
	if err != nil {
		t.Fatalf("testenv: parse %s: %v", r.URL, err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
	defer cancel()
	for {
		err := client.Ping(ctx).Err()
		if err == nil {
			return
		}
		select {
		case werr := <-r.exited:
			r.exited = nil
			log, _ := os.ReadFile(logPath)
			t.Fatalf("testenv: redis-server exited while starting (%v): %s", werr, log)
		case <-ctx.Done():
			t.Fatalf("testenv: redis-server on port %s did not answer within %v: %v", r.port, redisTimeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop shuts the server down (SIGTERM: it flushes its AOF first) and waits until it exits;
// clients then see connection errors until Start.
func (r *Redis) Stop(t testing.TB) {
	t.Helper()
	if r.exited == nil {
		t.Fatalf("testenv: Redis on port %s is not running", r.port)
	}
	exited := r.exited
	r.exited = nil
	if err := r.process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("testenv: signal redis-server: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(redisTimeout):
		r.process.Kill()
		t.Fatalf("testenv: redis-server on port %s did not exit within %v of SIGTERM", r.port, redisTimeout)
	}
}
