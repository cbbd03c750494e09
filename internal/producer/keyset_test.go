package producer

import (
	"fmt"
	"testing"
)

func TestKeySet(t *testing.T) {
	tests := []struct {
		name string
		adds []uint64
		want []bool // what each add reports
	}{
		{name: "new then repeated", adds: []uint64{7, 7, 8}, want: []bool{true, false, true}},
		{name: "zero is a hash like another", adds: []uint64{0, 0, 1}, want: []bool{true, false, true}},
		{name: "colliding slots probe on", adds: []uint64{1, 1 + minSlots, 1 + 2*minSlots, 1 + minSlots}, want: []bool{true, true, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s keySet
			for i, h := range tt.adds {
				if got := s.add(h); got != tt.want[i] {
					t.Fatalf("add #%d (%d) = %v, want %v", i, h, got, tt.want[i])
				}
			}
		})
	}
}

// TestKeySetGrows adds far more keys than the first table holds: each is new once and
// repeated after every growth.
func TestKeySetGrows(t *testing.T) {
	var s keySet
	const n = 20 * minSlots
	for i := range n {
		if !s.add(Hash(fmt.Sprint(i))) {
			t.Fatalf("key %d reported repeated on its first add", i)
		}
	}
	for i := range n {
		if s.add(Hash(fmt.Sprint(i))) {
			t.Fatalf("key %d reported new on its second add", i)
		}
	}
	if s.n != n || 2*s.n > len(s.slots) {
		t.Fatalf("%d hashes in %d slots; want %d, at most half full", s.n, len(s.slots), n)
	}
}
