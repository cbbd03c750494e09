package kafkaconn_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// Against the shared broker's SSL listener, whose certificate a test CA signs: with that CA
// as TLSCAFile the transport (admin calls and writers) and the dialer (consumer groups)
// carry a message there and back; with the system roots instead, every path fails the
// handshake with an unknown-authority error rather than retrying until a deadline.

// tlsTimeout bounds each scenario; a refused handshake must end well before it.
const tlsTimeout = time.Minute

func TestTLSRoundTrip(t *testing.T) {
	brokers, caFile := testenv.KafkaTLS(t)
	conn := newConn(t, config.Kafka{Brokers: brokers, TLS: true, TLSCAFile: caFile})
	client := &kafka.Client{Addr: kafka.TCP(conn.Brokers...), Transport: conn.Transport}
	topic := testenv.UniqueName(t, "tls")
	group := testenv.UniqueName(t, "tls")
	testenv.CreateTopicVia(t, client, topic, 1)
	ctx, cancel := context.WithTimeout(context.Background(), tlsTimeout)
	defer cancel()

	w := &kafka.Writer{Addr: kafka.TCP(conn.Brokers...), Topic: topic, Transport: conn.Transport, RequiredAcks: kafka.RequireAll, BatchSize: 1}
	defer w.Close()
	want := kafka.Message{Key: []byte("row-1"), Value: []byte("sent over TLS")}
	if err := w.WriteMessages(ctx, want); err != nil {
		t.Fatalf("write: %v", err)
	}

	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: conn.Brokers, Topic: topic, GroupID: group, Dialer: conn.Dialer,
		StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond,
	})
	defer r.Close()
	got, err := r.FetchMessage(ctx)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if !bytes.Equal(got.Key, want.Key) || !bytes.Equal(got.Value, want.Value) {
		t.Fatalf("fetched key %q value %q, want key %q value %q", got.Key, got.Value, want.Key, want.Value)
	}
	if err := r.CommitMessages(ctx, got); err != nil {
		t.Fatalf("commit: %v", err)
	}
	committed := testenv.CommittedOffsets(client, group, topic, []int{got.Partition})
	if committed[got.Partition] != got.Offset+1 {
		t.Fatalf("committed offsets %v, want %d on partition %d", committed, got.Offset+1, got.Partition)
	}
}

func TestTLSWithoutTheCAIsRefused(t *testing.T) {
	brokers, _ := testenv.KafkaTLS(t)
	paths := []struct {
		name    string
		connect func(ctx context.Context, conn *kafkaconn.Conn) error
	}{
		{name: "dialer (readers and consumer groups)", connect: func(ctx context.Context, conn *kafkaconn.Conn) error {
			c, err := conn.Dialer.DialContext(ctx, "tcp", conn.Brokers[0])
			if err == nil {
				c.Close()
			}
			return err
		}},
		{name: "transport (writers and admin calls)", connect: func(ctx context.Context, conn *kafkaconn.Conn) error {
			client := &kafka.Client{Addr: kafka.TCP(conn.Brokers...), Transport: conn.Transport}
			_, err := client.Metadata(ctx, &kafka.MetadataRequest{})
			return err
		}},
	}
	for _, path := range paths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			// No TLSCAFile: the system roots, which do not hold the test CA.
			conn := newConn(t, config.Kafka{Brokers: brokers, TLS: true})
			ctx, cancel := context.WithTimeout(context.Background(), tlsTimeout)
			defer cancel()

			err := path.connect(ctx, conn)

			var unknown x509.UnknownAuthorityError
			if !errors.As(err, &unknown) {
				t.Fatalf("connect without the test CA: %v, want an x509.UnknownAuthorityError", err)
			}
			if ctx.Err() != nil {
				t.Fatalf("the refusal came only at the deadline: %v", err)
			}
		})
	}
}
