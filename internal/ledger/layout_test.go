package ledger

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCompact(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		stored bool // stored as given
	}{
		{name: "short reference", in: "A-1001", stored: true},
		{name: "at the limit", in: strings.Repeat("r", maxRawField), stored: true},
		{name: "over the limit", in: strings.Repeat("r", maxRawField+1)},
		{name: "starts with the digest marker", in: "\x00A-1"},
		{name: "long unicode", in: strings.Repeat("ü", 20)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := compact(tc.in, maxRawField)
			if tc.stored && got != tc.in {
				t.Fatalf("compact(%q) = %q, want it unchanged", tc.in, got)
			}
			if !tc.stored && (len(got) != digestLen || got[0] != 0) {
				t.Fatalf("compact(%q) = %q, want a %d-byte digest starting with 0x00", tc.in, got, digestLen)
			}
		})
	}
	if a, b := compact(strings.Repeat("r", 40)+"1", maxRawField), compact(strings.Repeat("r", 40)+"2", maxRawField); a == b {
		t.Errorf("two long references share the digest %q", a)
	}
}

// TestStoredSizesFitListpack checks that no stored field or reservation value exceeds
// Redis's default hash-max-listpack-value (64 bytes), whatever the reference and owner:
// one longer entry would turn its whole bucket into a hashtable for good.
func TestStoredSizesFitListpack(t *testing.T) {
	const limit = 64
	leaseEnd := strconv.FormatInt(time.Date(5000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), 10)
	for n := 1; n <= 200; n++ {
		s := strings.Repeat("x", n)
		if got := len(compact(s, maxRawField)); got > limit {
			t.Fatalf("reference of %d bytes is stored in %d bytes", n, got)
		}
		if got := len(leaseEnd + ":" + compact(s, maxRawOwner)); got > limit {
			t.Fatalf("reservation of an owner of %d bytes is stored in %d bytes", n, got)
		}
	}
}

func TestSpan(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name            string
		retention       time.Duration
		partial         bool
		least, most     int
		partialAnswered bool
	}{
		// 400 days over 30-day epochs touch 14 or 15 epochs; one more on each side.
		{name: "every retained epoch", retention: DefaultRetention, least: 16, most: 17},
		{name: "the recent epochs", retention: DefaultRetention, partial: true, least: recentEpochs, most: recentEpochs, partialAnswered: true},
		{name: "a retention within the recent epochs is spanned whole", retention: 24 * time.Hour, partial: true, least: 3, most: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := spanOf("ip:l:", "507f191e810c19729de860ea", "A-1001", now, epochLength, tc.retention, tc.partial)
			if len(s.keys) < tc.least || len(s.keys) > tc.most || s.partial != tc.partialAnswered {
				t.Fatalf("got %d keys (partial %t), want %d to %d (partial %t): %q", len(s.keys), s.partial, tc.least, tc.most, tc.partialAnswered, s.keys)
			}
			tag := "ip:l:{507f191e810c19729de860ea:" + fmt.Sprintf("%03x", bucket("A-1001")) + "}:"
			for i, key := range s.keys {
				if want := tag + strconv.FormatInt(s.newest-int64(i), 10); key != want {
					t.Fatalf("key %d = %q, want %q", i, key, want)
				}
			}
			if current := now.UnixMilli() / epochLength.Milliseconds(); s.newest != current+1 {
				t.Errorf("newest epoch %d, want the one after the current %d", s.newest, current)
			}
		})
	}
}

// TestBucketsSpread checks that a business unit's references spread over the buckets (and
// so over a Redis Cluster's slots) instead of piling into a few.
func TestBucketsSpread(t *testing.T) {
	const refs = 100 * buckets
	count := make(map[uint32]int)
	for i := range refs {
		count[bucket(fmt.Sprintf("ORD-%08d", i))]++
	}
	for b := range uint32(buckets) {
		if count[b] < 50 || count[b] > 150 {
			t.Fatalf("bucket %d holds %d of %d references, want about 100", b, count[b], refs)
		}
	}
}

// TestOps checks the state machine table: every operation says what to write in every
// state, never deletes what is not there, and Reserve and TakeOver answer in every state.
func TestOps(t *testing.T) {
	for _, o := range []op{reserveOp, takeOverOp, confirmOp, releaseOp, markUnknownOp, forgetOp} {
		if len(o.actions) != int(unknown) || strings.Trim(o.actions, "RCUD-") != "" || o.actions[absent-1] == 'D' {
			t.Errorf("%s: actions %q, want one of R C U D - per state and no D when absent", o.name, o.actions)
		}
		reserves := o.name == reserveOp.name || o.name == takeOverOp.name
		for f := absent; f <= unknown; f++ {
			if reserves != (o.steps[f].status != 0) {
				t.Errorf("%s when %v: status %v", o.name, f, o.steps[f].status)
			}
		}
	}
}
