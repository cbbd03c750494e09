package consumer

import (
	"math/rand/v2"
	"testing"
)

// step is one move of a watermark test.
type step struct {
	fetch int64 // fetch this offset (when >= 0)
	done  int64 // or mark this one done (when >= 0)
	want  int64 // committable after the step
}

func TestWatermark(t *testing.T) {
	f := func(o, want int64) step { return step{fetch: o, done: -1, want: want} }
	d := func(o, want int64) step { return step{fetch: -1, done: o, want: want} }
	tests := []struct {
		name  string
		start int64
		steps []step
	}{
		{"in order", 0, []step{f(0, 0), f(1, 0), d(0, 1), d(1, 2)}},
		{"out of order waits for the oldest", 10, []step{f(10, 10), f(11, 10), f(12, 10), d(12, 10), d(11, 10), d(10, 13)}},
		{"gaps in offsets (compaction, transaction markers)", 0, []step{f(3, 3), f(7, 3), d(7, 3), d(3, 8)}},
		{"nothing fetched", 42, []step{}},
		{"done twice is harmless", 0, []step{f(0, 0), f(1, 0), d(1, 0), d(1, 0), d(0, 2)}},
		{"unknown offset is ignored", 0, []step{f(0, 0), d(5, 0), d(0, 1)}},
		{"long runs across words", 0, run(200)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWatermark(tt.start)
			if got := w.committable(); got != tt.start {
				t.Fatalf("committable at start = %d, want %d", got, tt.start)
			}
			for i, s := range tt.steps {
				var got int64
				if s.fetch >= 0 {
					if !w.fetched(s.fetch) {
						t.Fatalf("step %d: fetched(%d) refused", i, s.fetch)
					}
					got = w.committable()
				} else {
					got = w.done(s.done)
				}
				if got != s.want {
					t.Fatalf("step %d: committable = %d, want %d", i, got, s.want)
				}
			}
		})
	}
}

func TestWatermarkRefusesRedelivery(t *testing.T) {
	w := newWatermark(5)
	if w.fetched(4) {
		t.Error("fetched(4) accepted an offset below the start")
	}
	w.fetched(5)
	w.fetched(6)
	if w.fetched(6) || w.fetched(5) {
		t.Error("a redelivered offset was accepted")
	}
	if w.pending() != 2 {
		t.Errorf("pending = %d, want 2", w.pending())
	}
}

// TestWatermarkNeverPassesInflight checks the invariant on random completion orders:
// every offset below the watermark is done, and the watermark reaches the end.
func TestWatermarkNeverPassesInflight(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		n := 1 + rng.IntN(300)
		w := newWatermark(0)
		var inflight []int64
		next := int64(0)
		last, end := int64(0), int64(0)
		for next < int64(n) || len(inflight) > 0 {
			if next < int64(n) && (len(inflight) == 0 || rng.IntN(2) == 0) {
				w.fetched(next)
				inflight = append(inflight, next)
				end = next + 1
				next += 1 + int64(rng.IntN(2)) // sometimes a gap
				continue
			}
			i := rng.IntN(len(inflight))
			o := inflight[i]
			inflight = append(inflight[:i], inflight[i+1:]...)
			wm := w.done(o)
			if wm < last {
				t.Fatalf("round %d: watermark moved back from %d to %d", round, last, wm)
			}
			last = wm
			for _, p := range inflight {
				if p < wm {
					t.Fatalf("round %d: watermark %d passes in-flight offset %d", round, wm, p)
				}
			}
		}
		if last != end {
			t.Fatalf("round %d: final watermark %d, want %d", round, last, end)
		}
		if w.pending() != 0 {
			t.Fatalf("round %d: %d pending at the end", round, w.pending())
		}
	}
}

// run fetches offsets 0..n-1, marks all but offset 0 done in reverse order, then offset 0.
func run(n int64) []step {
	var s []step
	for o := range n {
		s = append(s, step{fetch: o, done: -1, want: 0})
	}
	for o := n - 1; o > 0; o-- {
		s = append(s, step{fetch: -1, done: o, want: 0})
	}
	return append(s, step{fetch: -1, done: 0, want: n})
}
