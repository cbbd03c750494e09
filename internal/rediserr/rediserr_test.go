package rediserr_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/invitepipe/invitepipe/internal/rediserr"
)

// TestServerReplies sends a command to a server that answers each reply below as an
// error, so that go-redis parses it exactly as it would from Redis.
func TestServerReplies(t *testing.T) {
	tests := []struct {
		name        string
		reply       string
		unavailable bool
	}{
		{name: "loading", reply: "LOADING Redis is loading the dataset in memory", unavailable: true},
		{name: "replica after a failover", reply: "READONLY You can't write against a read only replica.", unavailable: true},
		{name: "master down", reply: "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", unavailable: true},
		{name: "cluster down", reply: "CLUSTERDOWN The cluster is down", unavailable: true},
		{name: "slot migrating", reply: "TRYAGAIN Multiple keys request during rehashing of slot", unavailable: true},
		{name: "slot moved", reply: "MOVED 3999 127.0.0.1:6381", unavailable: true},
		{name: "slot being imported", reply: "ASK 3999 127.0.0.1:6381", unavailable: true},
		{name: "busy script", reply: "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.", unavailable: true},
		{name: "too many clients", reply: "ERR max number of clients reached", unavailable: true},
		{name: "no password given", reply: "NOAUTH Authentication required."},
		{name: "wrong password", reply: "WRONGPASS invalid username-password pair or user is disabled."},
		{name: "acl", reply: "NOPERM User ratelimit has no permissions to run the 'evalsha' command"},
		{name: "out of memory", reply: "OOM command not allowed when used memory > 'maxmemory'."},
		{name: "key of another type", reply: "WRONGTYPE Operation against a key holding the wrong kind of value"},
		{name: "script error", reply: "ERR user_script:12: Script attempted to access nonexistent global variable 'x' script: 5c1d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := miniredis.RunT(t)
			client := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
			t.Cleanup(func() { client.Close() })
			if err := client.Ping(context.Background()).Err(); err != nil {
				t.Fatalf("ping: %v", err)
			}
			m.SetError(tc.reply)
			err := client.Get(context.Background(), "k").Err()
			var redisErr redis.Error
			if !errors.As(err, &redisErr) {
				t.Fatalf("GET = %v; want the server's error reply", err)
			}
			if got := rediserr.Unavailable(err); got != tc.unavailable {
				t.Errorf("Unavailable(%v) = %v; want %v", err, got, tc.unavailable)
			}
			if got := rediserr.Unavailable(fmt.Errorf("wrapped: %w", err)); got != tc.unavailable {
				t.Errorf("Unavailable of the wrapped %v = %v; want %v", err, got, tc.unavailable)
			}
		})
	}
}

// TestClientErrors covers the errors go-redis returns without a reply.
func TestClientErrors(t *testing.T) {
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: timeoutError{}}
	tests := []struct {
		name        string
		err         error
		unavailable bool
	}{
		{name: "nil", err: nil},
		{name: "network error", err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, unavailable: true},
		{name: "read timeout", err: timeout, unavailable: true},
		{name: "connection cut", err: io.EOF, unavailable: true},
		{name: "connection cut mid-reply", err: io.ErrUnexpectedEOF, unavailable: true},
		{name: "pool timeout", err: redis.ErrPoolTimeout, unavailable: true},
		{name: "pool exhausted", err: redis.ErrPoolExhausted, unavailable: true},
		{name: "deadline", err: context.DeadlineExceeded, unavailable: true},
		{name: "wrapped deadline", err: fmt.Errorf("evalsha: %w", context.DeadlineExceeded), unavailable: true},
		{name: "caller cancelled", err: context.Canceled},
		{name: "caller cancelled during a network error", err: errors.Join(context.Canceled, timeout)},
		{name: "closed client", err: redis.ErrClosed},
		{name: "key not found", err: redis.Nil},
		{name: "another error", err: errors.New("redis: unexpected type")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rediserr.Unavailable(tc.err); got != tc.unavailable {
				t.Errorf("Unavailable(%v) = %v; want %v", tc.err, got, tc.unavailable)
			}
		})
	}
}

// TestUnreachableServer checks the error of a real dial to a port nobody listens on.
func TestUnreachableServer(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := listener.Addr().String()
	listener.Close()
	client := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { client.Close() })
	if err := client.Ping(context.Background()).Err(); !rediserr.Unavailable(err) {
		t.Errorf("PING to %s = %v; want an error that is Unavailable", addr, err)
	}
}

// timeoutError is a net.Error that timed out.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
