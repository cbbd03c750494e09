package dlq_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/dlq"
	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

func TestWriterStoresRecordOnRealKafka(t *testing.T) {
	brokers := testenv.Kafka(t)
	topic := testenv.UniqueName(t, "dlq")
	testenv.CreateTopic(t, brokers, topic, 1)
	conn := &kafkaconn.Conn{Brokers: brokers, Dialer: &kafka.Dialer{Timeout: 10 * time.Second}, Transport: &kafka.Transport{}}
	w := dlq.NewWriter(conn, topic)
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src := kafka.Message{Topic: "rows", Partition: 1, Offset: 7, Key: []byte("a/1"), Value: []byte(`not json`)}
	if err := w.Write(ctx, dlq.Record{Class: dlq.Malformed, Reason: "not JSON", FailedAt: time.Now(), Source: src}); err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	m, err := r.FetchMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dlq.Parse(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Key, src.Key) || !bytes.Equal(m.Value, src.Value) || got.Class != dlq.Malformed || got.Source.Offset != 7 || got.Source.Partition != 1 {
		t.Errorf("read back %+v (key %q value %q)", got, m.Key, m.Value)
	}
}
