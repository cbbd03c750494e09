package consumer

import "sort"

// watermark follows the messages of one partition from fetch to outcome and says which
// offset may be committed: the first offset fetched and not yet done, or the one after
// the last fetched when everything is done. It never moves backwards and never passes a
// message still in flight. It is not safe for concurrent use.
type watermark struct {
	// entries are the fetched offsets not yet behind the watermark, ascending; done
	// marks those with an outcome. entries[head:] is live.
	entries []entry
	head    int
	// next is the offset after the last one fetched; the watermark when nothing is
	// pending.
	next int64
}

type entry struct {
	offset int64
	done   bool
}

// newWatermark starts at offset, the first offset this partition will deliver.
func newWatermark(offset int64) *watermark {
	return &watermark{next: offset}
}

// fetched records a message. It reports false for an offset below the last one fetched
// (a redelivery): the caller must not process it again.
func (w *watermark) fetched(offset int64) bool {
	if offset < w.next {
		return false
	}
	w.entries = append(w.entries, entry{offset: offset})
	w.next = offset + 1
	return true
}

// done records the outcome of a fetched message and returns the watermark.
func (w *watermark) done(offset int64) int64 {
	live := w.entries[w.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i].offset >= offset })
	if i < len(live) && live[i].offset == offset {
		live[i].done = true
	}
	for w.head < len(w.entries) && w.entries[w.head].done {
		w.head++
	}
	// Reuse the array once the dead prefix is as large as the live part.
	if w.head > 0 && w.head >= len(w.entries)-w.head {
		n := copy(w.entries, w.entries[w.head:])
		w.entries = w.entries[:n]
		w.head = 0
	}
	return w.committable()
}

// committable is the offset to commit: every message below it has an outcome.
func (w *watermark) committable() int64 {
	if w.head < len(w.entries) {
		return w.entries[w.head].offset
	}
	return w.next
}

// pending is the number of messages fetched and not yet behind the watermark (done or
// not): what a stuck message makes grow.
func (w *watermark) pending() int {
	return len(w.entries) - w.head
}
