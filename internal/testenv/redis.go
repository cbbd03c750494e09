package testenv

import (
	"context"
	"crypto/x509"
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
	// URL is the server's redis:// (rediss:// from StartRedisTLS) URL, password included;
	// it stays the same across restarts.
	URL string
	// CAFile is, from StartRedisTLS, the PEM file of the CA that signs the server's
	// certificate; empty otherwise.
	CAFile string

	port    string
	dir     string
	tlsArgs []string // redis-server's TLS options; nil for plain TCP
	process *os.Process
	exited  chan error // receives the result of Wait; nil while stopped
}

// StartRedis starts a private redis-server on a free loopback port with its data in a
// temporary directory, and stops it when the test ends. Without a redis-server program the
// test fails on CI and skips elsewhere.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	return startRedis(t, "redis", "", nil)
}

// StartRedisTLS is StartRedis for a server that accepts TLS only (no client certificates),
// presenting the certificate for 127.0.0.1 that the shared test CA signs (the files in
// INVITEPIPE_TEST_TLS_CERT_FILE, _KEY_FILE and INVITEPIPE_TEST_KAFKA_TLS_CA_FILE). URL is
// rediss:// and CAFile names the CA, which no system trusts.
func StartRedisTLS(t testing.TB) *Redis {
	t.Helper()
	files := make(map[string]string)
	for _, env := range []string{KafkaTLSCAFileEnv, TLSCertFileEnv, TLSKeyFileEnv} {
		path, ok := existingFile(t, env)
		if !ok {
			return nil
		}
		files[env] = path
	}
	return startRedis(t, "rediss", files[KafkaTLSCAFileEnv], []string{
		"--tls-cert-file", files[TLSCertFileEnv], "--tls-key-file", files[TLSKeyFileEnv],
		"--tls-ca-cert-file", files[KafkaTLSCAFileEnv], "--tls-auth-clients", "no",
	})
}

// startRedis starts a private server reached with scheme, trusting caFile, with tlsArgs.
func startRedis(t testing.TB, scheme, caFile string, tlsArgs []string) *Redis {
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
		URL:     fmt.Sprintf("%s://:%s@127.0.0.1:%s/0", scheme, privateRedisPassword, port),
		CAFile:  caFile,
		port:    port,
		dir:     t.TempDir(),
		tlsArgs: tlsArgs,
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
	listen := []string{"--port", r.port}
	if r.tlsArgs != nil {
		listen = append([]string{"--port", "0", "--tls-port", r.port}, r.tlsArgs...)
	}
	cmd := exec.Command("redis-server", append(listen,
		"--bind", "127.0.0.1", "--requirepass", privateRedisPassword,
		"--appendonly", "yes", "--save", "", "--dir", r.dir, "--logfile", logPath)...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start redis-server: %v", err)
	}
	r.process = cmd.Process
	r.exited = make(chan error, 1)
	go func(exited chan<- error) { exited <- cmd.Wait() }(r.exited)

	client := redis.NewClient(r.Options(t))
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

// Options returns client options for URL that trust CAFile, if any.
func (r *Redis) Options(t testing.TB) *redis.Options {
	t.Helper()
	opts, err := redis.ParseURL(r.URL)
	if err != nil {
		t.Fatalf("testenv: parse %s: %v", r.URL, err)
	}
	if r.CAFile != "" {
		pem, err := os.ReadFile(r.CAFile)
		if err != nil {
			t.Fatalf("testenv: read the CA file: %v", err)
		}
		opts.TLSConfig.RootCAs = x509.NewCertPool()
		if !opts.TLSConfig.RootCAs.AppendCertsFromPEM(pem) {
			t.Fatalf("testenv: %s holds no PEM certificate", r.CAFile)
		}
	}
	return opts
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

// RedisClient returns a client of the shared test Redis (RedisURL), closed when the test
// ends.
func RedisClient(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}
