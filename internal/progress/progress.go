package progress

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed save.lua
	saveLua    string
	saveScript = redis.NewScript(saveLua)
)

// DefaultKeyPrefix starts every key of the store.
const DefaultKeyPrefix = "invitepipe:progress:"

// Snapshot is which offsets of a partition have their outcome: bit i of Done (little
// endian within each byte) is offset From+i.
type Snapshot struct {
	From int64
	Done []byte
}

// Has reports whether offset is recorded done.
func (s Snapshot) Has(offset int64) bool {
	i := offset - s.From
	if i < 0 || i >= int64(len(s.Done))*8 {
		return false
	}
	return s.Done[i/8]&(1<<(i%8)) != 0
}

// ErrFenced is returned by Save when a later generation of the group saved the partition.
var ErrFenced = errors.New("progress: a later generation owns the partition")

// Store keeps snapshots in Redis.
type Store struct {
	client redis.UniversalClient
	prefix string
	ttl    time.Duration
}

// New returns a Store whose records expire ttl after their last save (at least a
// minute).
func New(client redis.UniversalClient, ttl time.Duration) (*Store, error) {
	if ttl < time.Minute {
		return nil, fmt.Errorf("progress: ttl %s is shorter than a minute; use the longest time a row may wait, e.g. INVITEPIPE_DEFER_MAX_AGE", ttl)
	}
	return &Store{client: client, prefix: DefaultKeyPrefix, ttl: ttl}, nil
}

func (s *Store) key(group, topic string, partition int) string {
	return s.prefix + "{" + group + "/" + topic + "/" + strconv.Itoa(partition) + "}"
}

// Save records snap for the partition as generation gen saw it. It returns ErrFenced
// when a later generation already saved it.
func (s *Store) Save(ctx context.Context, group, topic string, partition int, gen int32, snap Snapshot) error {
	ok, err := saveScript.Run(ctx, s.client, []string{s.key(group, topic, partition)},
		gen, snap.From, snap.Done, s.ttl.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("progress: save partition %d: %w", partition, err)
	}
	if ok == 0 {
		return ErrFenced
	}
	return nil
}

// Load returns the partition's snapshot; an empty one when there is none.
func (s *Store) Load(ctx context.Context, group, topic string, partition int) (Snapshot, error) {
	vals, err := s.client.HMGet(ctx, s.key(group, topic, partition), "from", "done").Result()
	if err != nil {
		return Snapshot{}, fmt.Errorf("progress: load partition %d: %w", partition, err)
	}
	from, _ := vals[0].(string)
	done, _ := vals[1].(string)
	if from == "" {
		return Snapshot{}, nil
	}
	f, err := strconv.ParseInt(from, 10, 64)
	if err != nil {
		return Snapshot{}, fmt.Errorf("progress: load partition %d: from %q: %w", partition, from, err)
	}
	return Snapshot{From: f, Done: []byte(done)}, nil
}

// Clear forgets the records of the given partitions, e.g. before a replay.
func (s *Store) Clear(ctx context.Context, group, topic string, partitions []int) error {
	for _, p := range partitions {
		if err := s.client.Del(ctx, s.key(group, topic, p)).Err(); err != nil {
			return fmt.Errorf("progress: clear partition %d: %w", p, err)
		}
	}
	return nil
}
