package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/testenv"
)

// Smoke tests: each shared service answers with the credentials that `scripts/services env`
// prints, through the client library the project uses for it.

const smokeTimeout = time.Minute

func TestKafkaRoundTrip(t *testing.T) {
	testenv.RoundTrip(t, testenv.Kafka(t), nil, nil)
}

func TestCreateTopic(t *testing.T) {
	brokers := testenv.Kafka(t)
	tests := []struct {
		name       string
		partitions int
	}{
		{name: "one partition", partitions: 1},
		{name: "three partitions", partitions: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topic := testenv.UniqueName(t, "create")
			testenv.CreateTopic(t, brokers, topic, tc.partitions)
			// Creating again is a no-op; it would fail on a different partition count.
			testenv.CreateTopic(t, brokers, topic, tc.partitions)

			ctx, cancel := context.WithTimeout(context.Background(), smokeTimeout)
			defer cancel()
			w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.RoundRobin{}, BatchSize: 1}
			defer w.Close()
			for p := range tc.partitions {
				if err := w.WriteMessages(ctx, kafka.Message{Value: []byte{byte(p)}}); err != nil {
					t.Fatalf("write %d right after CreateTopic: %v", p, err)
				}
			}
		})
	}
}

func TestRedisAuthentication(t *testing.T) {
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("parse URL: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), smokeTimeout)
	defer cancel()

	t.Run("with the password, SET then GET returns the value", func(t *testing.T) {
		client := redis.NewClient(opts)
		defer client.Close()
		if err := client.Ping(ctx).Err(); err != nil {
			t.Fatalf("ping: %v", err)
		}
		key := testenv.UniqueName(t, "smoke")
		if err := client.Set(ctx, key, "sent", time.Minute).Err(); err != nil {
			t.Fatalf("set: %v", err)
		}
		if got, err := client.Get(ctx, key).Result(); err != nil || got != "sent" {
			t.Fatalf("get = %q, %v; want \"sent\"", got, err)
		}
	})

	t.Run("without the password, commands are refused", func(t *testing.T) {
		anonymous := *opts
		anonymous.Password = ""
		client := redis.NewClient(&anonymous)
		defer client.Close()
		err := client.Ping(ctx).Err()
		if err == nil || !redis.HasErrorPrefix(err, "NOAUTH") {
			t.Fatalf("ping without password: %v, want a NOAUTH error", err)
		}
	})
}

func TestPostgresSelect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), smokeTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, testenv.PostgresURL(t))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var one int
	var user string
	if err := conn.QueryRow(ctx, "SELECT 1, current_user").Scan(&one, &user); err != nil {
		t.Fatalf("select: %v", err)
	}
	if one != 1 || user != "invitepipe" {
		t.Fatalf("SELECT 1, current_user = %d, %q; want 1, \"invitepipe\"", one, user)
	}
}

func TestStartRedisKeepsDataAcrossRestart(t *testing.T) {
	server := testenv.StartRedis(t)
	opts, err := redis.ParseURL(server.URL)
	if err != nil {
		t.Fatalf("parse URL: %v", err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), smokeTimeout)
	defer cancel()

	if err := client.Set(ctx, "ledger", "sent", 0).Err(); err != nil {
		t.Fatalf("set: %v", err)
	}
	server.Stop(t)
	if err := client.Ping(ctx).Err(); err == nil {
		t.Fatal("ping succeeded while Redis was stopped")
	}
	server.Start(t)
	got, err := client.Get(ctx, "ledger").Result()
	if err != nil || got != "sent" {
		t.Fatalf("get after restart = %q, %v; want \"sent\"", got, err)
	}
}
