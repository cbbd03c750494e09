package embedded

import (
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Kafka is an in-process Kafka broker.
type Kafka struct {
	cluster *kfake.Cluster
}

// StartKafka starts a one-broker Kafka on loopback with topics, each of partitions
// partitions.
func StartKafka(partitions int, topics ...string) (*Kafka, error) {
	if partitions < 1 || len(topics) == 0 {
		return nil, fmt.Errorf("embedded kafka: want at least one topic and one partition, got %d topic(s) of %d partition(s)", len(topics), partitions)
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.SeedTopics(int32(partitions), topics...),
	)
	if err != nil {
		return nil, fmt.Errorf("embedded kafka: %w", err)
	}
	return &Kafka{cluster: c}, nil
}

// Brokers are the bootstrap addresses, host:port.
func (k *Kafka) Brokers() []string { return k.cluster.ListenAddrs() }

// Close stops the broker.
func (k *Kafka) Close() { k.cluster.Close() }

// Redis is an in-process Redis.
type Redis struct {
	server *miniredis.Miniredis
}

// StartRedis starts a Redis on loopback.
func StartRedis() (*Redis, error) {
	s := miniredis.NewMiniRedis()
	if err := s.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("embedded redis: %w", err)
	}
	return &Redis{server: s}, nil
}

// URL is the redis:// URL of the server, database 0, without a password.
func (r *Redis) URL() string { return "redis://" + r.server.Addr() + "/0" }

// Close stops the server.
func (r *Redis) Close() { r.server.Close() }
