package consumer

import (
	"encoding/binary"
	"math/bits"
)

// watermark follows the offsets of one partition from fetch to outcome and says which
// offset may be committed: the first offset fetched and not yet done, or the one after
// the last fetched when everything is done. It never moves backwards and never passes a
// message without an outcome, deferred ones included. It costs one bit per offset between
// the watermark and the last fetched, so a million deferred messages cost little. It is
// not safe for concurrent use.
type watermark struct {
	// origin is the offset of bit 0 of have; base is the watermark (base >= origin, and
	// every offset in [origin, base) is done).
	origin, base int64
	// next is the offset after the last one fetched.
	next int64
	// have has bit i set when offset origin+i has its outcome or does not exist (a gap
	// left by compaction or a transaction marker).
	have []uint64
}

// newWatermark starts at offset, the first offset this partition will deliver.
func newWatermark(offset int64) *watermark {
	return &watermark{origin: offset, base: offset, next: offset}
}

// fetched records a message. It reports false for an offset below the last one fetched
// (a redelivery): the caller must not process it again.
func (w *watermark) fetched(offset int64) bool {
	if offset < w.next {
		return false
	}
	for o := w.next; o < offset; o++ { // offsets that do not exist are done
		w.set(o)
	}
	w.next = offset + 1
	w.grow(w.next)
	w.advance()
	return true
}

// done records the outcome of a fetched message and returns the watermark. Offsets not
// fetched, or already behind the watermark, are ignored.
func (w *watermark) done(offset int64) int64 {
	if offset >= w.base && offset < w.next {
		w.set(offset)
		w.advance()
	}
	return w.base
}

// isDone reports whether offset has its outcome (offsets behind the watermark have).
func (w *watermark) isDone(offset int64) bool {
	if offset < w.base {
		return true
	}
	if offset >= w.next {
		return false
	}
	i := offset - w.origin
	return w.have[i/64]&(1<<(i%64)) != 0
}

// committable is the offset to commit: every message below it has an outcome.
func (w *watermark) committable() int64 { return w.base }

// pending is the number of offsets fetched and not yet behind the watermark (done or
// not).
func (w *watermark) pending() int { return int(w.next - w.base) }

func (w *watermark) set(offset int64) {
	w.grow(offset + 1)
	i := offset - w.origin
	w.have[i/64] |= 1 << (i % 64)
}

// grow makes room for the bits of offsets below end.
func (w *watermark) grow(end int64) {
	for need := int((end - w.origin + 63) / 64); len(w.have) < need; {
		w.have = append(w.have, 0)
	}
}

// advance moves base past done offsets and drops whole words behind it.
func (w *watermark) advance() {
	for w.base < w.next {
		i := w.base - w.origin
		word := w.have[i/64] >> (i % 64)
		if word&1 == 0 {
			break
		}
		// Skip the run of ones at once.
		run := int64(bits.TrailingZeros64(^word))
		if run == 0 || i%64+run > 64 {
			run = 64 - i%64
		}
		w.base = min(w.base+run, w.next)
	}
	if drop := int((w.base - w.origin) / 64); drop > 0 && drop >= len(w.have)/2 {
		n := copy(w.have, w.have[drop:])
		clear(w.have[n:])
		w.have = w.have[:n]
		w.origin += int64(drop) * 64
	}
}

// snapshot returns the done offsets from origin to the last fetched as a bitmap (bit i of
// byte i/8 is offset from+i), and whether any offset past the watermark is done: without
// one the committed offset says it all.
func (w *watermark) snapshot() (from int64, done []byte, beyond bool) {
	words := int((w.next - w.origin + 63) / 64)
	done = make([]byte, 0, words*8)
	for _, word := range w.have[:words] {
		done = binary.LittleEndian.AppendUint64(done, word)
	}
	for o := w.base; o < w.next && !beyond; o++ {
		beyond = w.isDone(o)
	}
	return w.origin, done, beyond
}
