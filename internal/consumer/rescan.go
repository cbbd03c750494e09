package consumer

import (
	"context"

	"github.com/segmentio/kafka-go"
)

// rescanItem is one answer of a rescan: a message read again, an offset Kafka no longer
// has (lost), or the end of the rescan (done).
type rescanItem struct {
	want want
	msg  kafka.Message
	lost bool
	done bool
}

// rescan reads partition forward from the first wanted offset to the last, in one pass,
// and sends each wanted message (or its loss) to out, then done. wanted is sorted by
// offset. It stops early when the generation ends.
func (c *Consumer) rescan(gctx context.Context, partition int, wanted []want, out chan<- rescanItem) {
	send := func(it rescanItem) bool {
		select {
		case out <- it:
			return true
		case <-gctx.Done():
			return false
		}
	}
	defer send(rescanItem{done: true})
	r := c.newReader(partition, wanted[0].offset)
	defer r.Close()
	for len(wanted) > 0 {
		msg, err := c.fetchOne(gctx, r)
		if err != nil {
			return
		}
		// Offsets below msg's that are still wanted are gone (retention deleted them).
		for len(wanted) > 0 && wanted[0].offset < msg.Offset {
			if !send(rescanItem{want: wanted[0], lost: true}) {
				return
			}
			wanted = wanted[1:]
		}
		if len(wanted) > 0 && wanted[0].offset == msg.Offset {
			if !send(rescanItem{want: wanted[0], msg: msg}) {
				return
			}
			wanted = wanted[1:]
		}
	}
}
