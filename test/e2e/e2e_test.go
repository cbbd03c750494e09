package e2e

import (
	"testing"
	"time"
)

// TestEndToEnd sends thousands of rows over three activations, with duplicates and every
// kind of bad row, through one consumer.
func TestEndToEnd(t *testing.T) {
	s := newStack(t, stackOptions{})
	w := newWorkload(3000, 20, 500, 1)
	ends := s.produce(w.records)
	s.start("a")
	s.waitCommitted(ends, 120*time.Second)
	checkSentExactlyOnce(t, s, w, nil)
	t.Logf("%d records: %d invitations sent once each, %d dead letters", len(w.records), len(s.sent()), len(w.bad))
	checkDeadLetters(t, s, w, 0)
	if n := s.dlqCount(); n != int64(len(w.bad)) {
		t.Errorf("DLQ holds %d records, want %d", n, len(w.bad))
	}
}
