package redisbatch_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/invitepipe/invitepipe/internal/redisbatch"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// op is a test operation: its key, and the batch that ran it.
type op struct {
	key   string
	batch int
}

// recorder runs batches by recording them; the first one waits for release, so that
// the operations started meanwhile queue behind it.
type recorder struct {
	mu      sync.Mutex
	batches [][][]string // per batch, per group, the keys
	release chan struct{}
}

func (r *recorder) run(_ context.Context, groups [][]*op) {
	r.mu.Lock()
	n := len(r.batches)
	var keys [][]string
	for _, g := range groups {
		var k []string
		for _, o := range g {
			o.batch = n
			k = append(k, o.key)
		}
		keys = append(keys, k)
	}
	r.batches = append(r.batches, keys)
	r.mu.Unlock()
	if n == 0 {
		<-r.release
	}
}

// start runs Do for each key in its own goroutine, the others one by one once the first
// key's batch is under way, releases that batch when all are queued, and returns each
// Do's error.
func start(t *testing.T, b *redisbatch.Batcher[*op], r *recorder, ctx context.Context, keys ...string) []error {
	t.Helper()
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = b.Do(context.Background(), &op{key: keys[0]}) })
	testenv.WaitFor(t, 10*time.Second, "the first batch is under way", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.batches) == 1
	})
	for i, k := range keys[1:] {
		wg.Go(func() { errs[i+1] = b.Do(ctx, &op{key: k}) })
		testenv.WaitFor(t, 10*time.Second, fmt.Sprintf("%q is queued", k), func() bool { return b.Queued() == i+1 })
	}
	close(r.release)
	wg.Wait()
	return errs
}

func TestBatcher(t *testing.T) {
	tests := []struct {
		name    string
		opts    redisbatch.Options
		keys    []string
		cancel  bool
		want    [][][]string // the batches after the first, as sets of groups
		skipped bool
	}{
		{
			name: "what arrives during a batch goes in the next, in one group",
			keys: []string{"first", "a{1}", "b{2}", "c{1}"},
			want: [][][]string{{{"a{1}", "b{2}", "c{1}"}}},
		},
		{
			name: "grouped by hash tag, in arrival order within a group",
			opts: redisbatch.Options{Group: redisbatch.HashTag},
			keys: []string{"first", "a{1}", "b{2}", "c{1}"},
			want: [][][]string{{{"a{1}", "c{1}"}, {"b{2}"}}},
		},
		{
			name: "at most Max per batch",
			opts: redisbatch.Options{Max: 2},
			keys: []string{"first", "a", "b", "c"},
			want: [][][]string{{{"a", "b"}}, {{"c"}}},
		},
		{
			name:    "an operation whose context ended before its batch went is not run",
			keys:    []string{"first", "a", "b"},
			cancel:  true,
			skipped: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{release: make(chan struct{})}
			b := redisbatch.New(r.run, func(o *op) string { return o.key }, tc.opts)
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancel {
				cancel()
			}
			defer cancel()
			errs := start(t, b, r, ctx, tc.keys...)
			if errs[0] != nil {
				t.Fatalf("the first operation: %v", errs[0])
			}
			for i, err := range errs[1:] {
				if tc.skipped != errors.Is(err, context.Canceled) {
					t.Fatalf("operation %q: %v, want skipped %t", tc.keys[i+1], err, tc.skipped)
				}
			}
			got := r.batches[1:]
			if tc.skipped {
				if len(got) != 0 {
					t.Fatalf("batches after the first: %v, want none", got)
				}
				return
			}
			if fmt.Sprint(sortGroups(got)) != fmt.Sprint(sortGroups(tc.want)) {
				t.Fatalf("batches after the first: %v, want %v", got, tc.want)
			}
		})
	}
}

// sortGroups orders each batch's groups by their first key: the grouping, not the
// groups' order, is the contract.
func sortGroups(batches [][][]string) [][][]string {
	for _, b := range batches {
		slices.SortFunc(b, func(x, y []string) int { return cmp.Compare(x[0], y[0]) })
	}
	return batches
}

func TestHashTag(t *testing.T) {
	for key, want := range map[string]string{
		"ip:l:{bu:3fd}:692": "bu:3fd",
		"plain":             "plain",
		"a{}b":              "a{}b", // an empty tag is no tag: Redis hashes the whole key
		"a{b":               "a{b",
		"{x}{y}":            "x",
	} {
		if got := redisbatch.HashTag(key); got != want {
			t.Errorf("HashTag(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestEval checks that several requests go in one pipeline, each with its own answer,
// and that a server without the script gets it loaded.
func TestEval(t *testing.T) {
	m := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { client.Close() })
	script := redis.NewScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`)
	keys := []string{"a", "b", "a"}
	for round := range 2 {
		if round == 1 {
			if err := client.ScriptFlush(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
		}
		cmds := redisbatch.Eval(context.Background(), client, script, len(keys), func(i int) ([]string, []any) {
			return []string{keys[i]}, []any{i + 1}
		})
		var got []int64
		for _, c := range cmds {
			n, err := c.Int64()
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			got = append(got, n)
		}
		// a += 1, b += 2, a += 3 per round.
		if want := [][]int64{{1, 2, 4}, {5, 4, 8}}[round]; !slices.Equal(got, want) {
			t.Fatalf("round %d: answers %v, want %v", round, got, want)
		}
	}
}
