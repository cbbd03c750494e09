package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/invitepipe/invitepipe/internal/ledger"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// realEnv returns an env on a real server or cluster; time passes by sleeping.
func realEnv(t *testing.T, client redis.UniversalClient) *env {
	t.Cleanup(func() { client.Close() })
	return &env{
		client:  client,
		options: func(o ledger.Options) ledger.Options { return o },
		pass:    func(d time.Duration) { time.Sleep(d) },
		shared:  true,
	}
}

// newClient returns a client of the Redis at url.
func newClient(t testing.TB, url string) *redis.Client {
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse the Redis URL: %v", err)
	}
	return redis.NewClient(opts)
}

func TestConformanceRedis(t *testing.T) {
	url := testenv.RedisURL(t)
	newEnv := func(t *testing.T) *env { return realEnv(t, newClient(t, url)) }
	testConformance(t, newEnv)
	t.Run("batched", func(t *testing.T) { testConformance(t, batched(newEnv)) })
}

func TestConformanceRedisCluster(t *testing.T) {
	addrs := startCluster(t)
	testConformance(t, func(t *testing.T) *env {
		return realEnv(t, redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, Password: clusterPassword}))
	})
	t.Run("batched", func(t *testing.T) {
		testConformance(t, batched(func(t *testing.T) *env {
			return realEnv(t, redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, Password: clusterPassword}))
		}))
	})
	t.Run("batched operations share round trips", func(t *testing.T) {
		e := realEnv(t, redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, Password: clusterPassword}))
		if trips := concurrentReserves(t, e, true); trips >= concurrent {
			t.Fatalf("%d reserves took %d round trips, want fewer: one pipeline per batch", concurrent, trips)
		}
	})

	t.Run("a business unit spreads over the masters", func(t *testing.T) {
		e := realEnv(t, redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, Password: clusterPassword}))
		l := e.ledger(t, ledger.Options{})
		for i := range 64 {
			expect(t, l.Reserve, "ORD-"+strconv.Itoa(i), "a", ledger.Reserved)
		}
		var holding atomic.Int32
		err := e.client.(*redis.ClusterClient).ForEachMaster(context.Background(), func(ctx context.Context, node *redis.Client) error {
			keys, err := node.Keys(ctx, "*"+bu+"*").Result()
			if len(keys) > 0 {
				holding.Add(1)
			}
			return err
		})
		if err != nil || holding.Load() < 2 {
			t.Fatalf("%d of 3 masters hold keys (%v), want the business unit spread over several", holding.Load(), err)
		}
	})
}

// TestRedisRestart checks that the ledger reports a stopped Redis as unavailable, works
// again once it is back, and that what was confirmed before survived.
func TestRedisRestart(t *testing.T) {
	r := testenv.StartRedis(t)
	e := realEnv(t, newClient(t, r.URL))
	l := e.ledger(t, ledger.Options{})
	expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
	settle(t, "confirm", l.Confirm, "A-1", "a", false)

	r.Stop(t)
	if _, err := l.Reserve(context.Background(), bu, "A-1", "b"); !errors.Is(err, ledger.ErrUnavailable) {
		t.Fatalf("reserve with Redis stopped: got %v, want ErrUnavailable", err)
	}
	r.Start(t)
	e.eventually(t, "ledger answers after the restart", func() bool {
		r, err := l.Reserve(context.Background(), bu, "A-1", "b")
		if err != nil && !errors.Is(err, ledger.ErrUnavailable) {
			t.Fatalf("reserve after the restart: %v", err)
		}
		if err == nil && r.Status != ledger.Duplicate {
			t.Fatalf("reserve after the restart: got %v, want duplicate", r.Status)
		}
		return err == nil
	})
}

const clusterPassword = "invitepipe-test"

// startCluster starts a Redis Cluster of three masters on free loopback ports with its
// data in a temporary directory, stops it when the test ends, and returns the addresses.
func startCluster(t *testing.T) []string {
	t.Helper()
	testenv.RedisURL(t) // skips (or fails on CI) where the test services are not set up
	for _, program := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(program); err != nil {
			t.Fatalf("%s is not installed; scripts/services up installs it", program)
		}
	}
	dir := t.TempDir()
	var addrs []string
	for range 3 {
		port := freePort(t)
		cmd := exec.Command("redis-server",
			"--bind", "127.0.0.1", "--port", port, "--requirepass", clusterPassword,
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes-"+port+".conf"),
			"--dir", dir, "--save", "", "--appendonly", "no", "--logfile", filepath.Join(dir, port+".log"))
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		})
		addrs = append(addrs, "127.0.0.1:"+port)
	}
	for _, addr := range addrs {
		client := redis.NewClient(&redis.Options{Addr: addr, Password: clusterPassword})
		testenv.WaitFor(t, 30*time.Second, "redis-server on "+addr+" answers", func() bool { return client.Ping(context.Background()).Err() == nil })
		client.Close()
	}
	args := append([]string{"-a", clusterPassword, "--no-auth-warning", "--cluster", "create"}, addrs...)
	out, err := exec.Command("redis-cli", append(args, "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v: %s", err, out)
	}
	for _, addr := range addrs {
		client := redis.NewClient(&redis.Options{Addr: addr, Password: clusterPassword})
		testenv.WaitFor(t, 30*time.Second, "cluster state ok on "+addr, func() bool {
			info, err := client.ClusterInfo(context.Background()).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok")
		})
		client.Close()
	}
	return addrs
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// roundTrips counts the commands a client sends, pipelines counted once; with
// onlyScripts, only script calls (EVALSHA, EVAL), not the connections' handshakes.
type roundTrips struct {
	n           atomic.Int64
	onlyScripts bool
}

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if r.counts(cmd) {
			r.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if slices.ContainsFunc(cmds, r.counts) {
			r.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

func (r *roundTrips) counts(cmd redis.Cmder) bool {
	name := cmd.Name()
	return !r.onlyScripts || name == "evalsha" || name == "eval"
}

// BenchmarkReserveConfirm measures one message's ledger work, Reserve then Confirm of a
// new reference, against the real Redis, one message at a time and 256 at once with
// Options.Batch: go test -run - -bench . ./internal/ledger
func BenchmarkReserveConfirm(b *testing.B) {
	for _, batch := range []bool{false, true} {
		b.Run(fmt.Sprintf("batch=%v", batch), func(b *testing.B) {
			client := newClient(b, testenv.RedisURL(b))
			defer client.Close()
			prefix := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
			defer deleteKeys(context.Background(), client, prefix+"*")
			l, err := ledger.New(client, ledger.Options{KeyPrefix: prefix, Batch: batch})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if _, err := l.Reserve(ctx, bu, "warm-up", "a"); err != nil { // loads the script
				b.Fatal(err)
			}
			trips := &roundTrips{}
			client.AddHook(trips)
			var next atomic.Int64
			send := func() {
				ref := "ORD-" + strconv.FormatInt(next.Add(1), 10)
				r, err := l.Reserve(ctx, bu, ref, "a")
				if err != nil || r.Status != ledger.Reserved {
					b.Errorf("reserve: %v, %v", r, err)
				}
				if err := l.Confirm(ctx, bu, ref, "a"); err != nil {
					b.Errorf("confirm: %v", err)
				}
			}
			if batch {
				b.SetParallelism(128) // 256 callers on 2 cores
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						send()
					}
				})
			} else {
				for b.Loop() {
					send()
				}
			}
			b.ReportMetric(float64(trips.n.Load())/float64(b.N), "roundtrips/op")
		})
	}
}

// TestBatchSharesScriptCalls checks that Options.Batch puts concurrent operations in
// fewer script calls than there are operations, and that without it each is its own.
func TestBatchSharesScriptCalls(t *testing.T) {
	url := testenv.RedisURL(t)
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("batch=%v", batch), func(t *testing.T) {
			calls := concurrentReserves(t, realEnv(t, newClient(t, url)), batch)
			if batch && calls >= concurrent || !batch && calls != concurrent {
				t.Fatalf("%d reserves took %d script calls, want %s", concurrent, calls, map[bool]string{true: "fewer", false: "one each"}[batch])
			}
		})
	}
}

// concurrent is how many operations concurrentReserves starts at once.
const concurrent = 300

// concurrentReserves reserves as many references at once on a ledger of e, and returns
// how many round trips carried script calls.
func concurrentReserves(t *testing.T, e *env, batch bool) int64 {
	l := e.ledger(t, ledger.Options{Batch: batch})
	expect(t, l.Reserve, "warm-up", "a", ledger.Reserved) // loads the script
	trips := &roundTrips{onlyScripts: true}
	e.client.AddHook(trips)
	var wg sync.WaitGroup
	errs := make([]error, concurrent)
	for i := range concurrent {
		wg.Go(func() {
			_, errs[i] = l.Reserve(context.Background(), bu, fmt.Sprintf("REF-%d", i), "a")
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d reserves in %d round trips with script calls", concurrent, trips.n.Load())
	return trips.n.Load()
}

// TestBatchSkipsEndedCallers checks that a batched operation whose context ended before
// it was sent is not applied.
func TestBatchSkipsEndedCallers(t *testing.T) {
	e := realEnv(t, newClient(t, testenv.RedisURL(t)))
	l := e.ledger(t, ledger.Options{Batch: true, Lease: long})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Reserve(ctx, bu, "A-1", "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("reserve with an ended context: got %v, want context.Canceled", err)
	}
	expect(t, l.Reserve, "A-1", "b", ledger.Reserved)
}

// TestSettleSendsRecentKeys checks that a Confirm after its Reserve sends only the recent
// epochs' keys, where the Reserve put the entry, while the Reserve sends every retained
// epoch's.
func TestSettleSendsRecentKeys(t *testing.T) {
	e := realEnv(t, newClient(t, testenv.RedisURL(t)))
	l := e.ledger(t, ledger.Options{})
	expect(t, l.Reserve, "warm-up", "a", ledger.Reserved) // loads the script
	keys := &scriptKeys{}
	e.client.AddHook(keys)
	expect(t, l.Reserve, "A-1", "a", ledger.Reserved)
	settle(t, "confirm", l.Confirm, "A-1", "a", false)
	if got := keys.counts(); len(got) != 2 || got[0] < 16 || got[1] != 3 {
		t.Fatalf("keys per script call %v, want 16 or 17 for the reserve (400 days of 30-day epochs), then 3 for the confirm", got)
	}
}

// scriptKeys records how many keys each script call names.
type scriptKeys struct {
	mu sync.Mutex
	n  []int64
}

func (s *scriptKeys) DialHook(next redis.DialHook) redis.DialHook { return next }

func (s *scriptKeys) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); name == "evalsha" || name == "eval" {
			n, _ := cmd.Args()[2].(int)
			s.mu.Lock()
			s.n = append(s.n, int64(n))
			s.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

func (s *scriptKeys) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (s *scriptKeys) counts() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.n)
}
