package producer

// keySet is a set of key hashes (uniform 64-bit values, Hash): open addressing with
// linear probing over one []uint64, kept at most half full. It holds a run's keys to count
// the keys repeated within the run, at 16 to 32 bytes per distinct key (a Go map of the
// same keys measured 70 to 80 bytes per key of peak RSS), with no pointer for the garbage
// collector to scan.
type keySet struct {
	slots []uint64 // 0: empty; the hash 0 is kept in zero
	n     int      // hashes in slots
	zero  bool
}

// minSlots is the size of a keySet's first table.
const minSlots = 1 << 10

// add puts h in the set and reports whether it was absent.
func (s *keySet) add(h uint64) bool {
	if h == 0 {
		added := !s.zero
		s.zero = true
		return added
	}
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	if !s.put(h) {
		return false
	}
	s.n++
	return true
}

// put places h in slots and reports whether it was absent; slots has room.
func (s *keySet) put(h uint64) bool {
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case 0:
			s.slots[i] = h
			return true
		case h:
			return false
		}
	}
}

// grow doubles the table (or makes the first one) and places the hashes again.
func (s *keySet) grow() {
	old := s.slots
	s.slots = make([]uint64, max(2*len(old), minSlots))
	for _, h := range old {
		if h != 0 {
			s.put(h)
		}
	}
}
