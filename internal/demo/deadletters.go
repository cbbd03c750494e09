package demo

import (
	"context"
	"strings"
	"sync"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/deliver"
	"github.com/invitepipe/invitepipe/internal/dlq"
)

// deadLetterCounts counts the records written to the dead-letter topic, by destination
// and class.
type deadLetterCounts struct {
	dests map[string]string // activation id -> destination name

	mu sync.Mutex
	n  map[string]map[dlq.Class]int64
}

func newDeadLetterCounts(f *activation.File) *deadLetterCounts {
	c := &deadLetterCounts{dests: map[string]string{}, n: map[string]map[dlq.Class]int64{}}
	for _, a := range f.Activations {
		c.dests[a.ID] = a.Destination
	}
	return c
}

// wrap returns w, counting each record it wrote.
func (c *deadLetterCounts) wrap(w deliver.DeadLetters) deliver.DeadLetters {
	return countingWriter{next: w, counts: c}
}

// add counts r under the destination of the activation its key names (the producer's
// keys are "<activation>/<primary key>"); "" when it names none of the file's.
func (c *deadLetterCounts) add(r dlq.Record) {
	id, _, _ := strings.Cut(string(r.Source.Key), "/")
	dest := c.dests[id]
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[dest] == nil {
		c.n[dest] = map[dlq.Class]int64{}
	}
	c.n[dest][r.Class]++
}

// of returns a copy of dest's counts by class.
func (c *deadLetterCounts) of(dest string) map[dlq.Class]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[dlq.Class]int64{}
	for class, n := range c.n[dest] {
		out[class] = n
	}
	return out
}

// countingWriter counts what its next writer wrote.
type countingWriter struct {
	next   deliver.DeadLetters
	counts *deadLetterCounts
}

func (w countingWriter) Write(ctx context.Context, r dlq.Record) error {
	if err := w.next.Write(ctx, r); err != nil {
		return err
	}
	w.counts.add(r)
	return nil
}
