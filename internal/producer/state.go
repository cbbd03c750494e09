package producer

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix starts every key of the producer's state.
const DefaultKeyPrefix = "invitepipe:producer:"

// ErrLocked is returned when another run of the activation holds its lock.
var ErrLocked = errors.New("another run of this activation holds its lock")

// ErrFenced is returned when the run lost its lock (its lease expired and another run took
// it) before advancing the state: it must stop, advancing nothing.
var ErrFenced = errors.New("the run lost its lock before advancing the state")

// advance records a batch while the lock holds the run's token (ARGV[1]): it sets the
// cursor to ARGV[2] when not empty; adds the ARGV[3] members from ARGV[6] on (the rows
// emitted) to the seen set, and removes them from the held set when ARGV[4] is 1 (a
// backfill run); adds the members after those to the held set; and deletes the held set
// when ARGV[5] is 1 (a backfill run that emitted every new row).
var advanceScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if ARGV[2] ~= '' then redis.call('SET', KEYS[3], ARGV[2]) end
local last = 5 + tonumber(ARGV[3])
for i = 6, last, 1000 do
  local j = math.min(i + 999, last)
  redis.call('SADD', KEYS[2], unpack(ARGV, i, j))
  if ARGV[4] == '1' then redis.call('SREM', KEYS[4], unpack(ARGV, i, j)) end
end
for i = last + 1, #ARGV, 1000 do
  redis.call('SADD', KEYS[4], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if ARGV[5] == '1' then redis.call('DEL', KEYS[4]) end
return 0
`)

// renew extends the lease while the lock holds the token.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`)

// release deletes the lock while it holds the token.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`)

// forget deletes the seen set, the cursor and the held set while the lock holds the token.
var forgetScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
return redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
`)

// Hash is the 64-bit hash of a primary key that the state records: xxHash64 of its text.
func Hash(key string) uint64 { return xxhash.Sum64String(key) }

// member is a hash as the 8 bytes the seen set holds.
func member(h uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], h)
	return string(b[:])
}

// State is one activation's diff state and lock in Redis. Its keys share a hash tag, so
// the scripts that touch several work on Redis Cluster.
type State struct {
	client redis.UniversalClient
	lock   string
	seen   string
	cursor string
	// held is the set of the new rows a limited backfill run left for the next backfill
	// run (doc.go): the other runs skip them.
	held string
}

// NewState returns the state of activation under prefix (DefaultKeyPrefix when empty).
func NewState(client redis.UniversalClient, prefix, activation string) *State {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	base := prefix + "{" + activation + "}:"
	return &State{client: client, lock: base + "lock", seen: base + "seen", cursor: base + "cursor", held: base + "held"}
}

// Seen reports, for each hash, whether the state records it.
func (s *State) Seen(ctx context.Context, hashes []uint64) ([]bool, error) {
	return s.members(ctx, s.seen, hashes)
}

// Held reports, for each hash, whether a limited backfill run left it for the next
// backfill run.
func (s *State) Held(ctx context.Context, hashes []uint64) ([]bool, error) {
	return s.members(ctx, s.held, hashes)
}

// Holding reports whether a limited backfill run left rows for the next backfill run.
func (s *State) Holding(ctx context.Context) (bool, error) {
	n, err := s.client.Exists(ctx, s.held).Result()
	if err != nil {
		return false, fmt.Errorf("producer state: %w", err)
	}
	return n > 0, nil
}

// members reports, for each hash, whether set holds it.
func (s *State) members(ctx context.Context, set string, hashes []uint64) ([]bool, error) {
	if len(hashes) == 0 {
		return nil, nil
	}
	members := make([]any, len(hashes))
	for i, h := range hashes {
		members[i] = member(h)
	}
	in, err := s.client.SMIsMember(ctx, set, members...).Result()
	if err != nil {
		return nil, fmt.Errorf("producer state: %w", err)
	}
	return in, nil
}

// Len returns how many keys the state records.
func (s *State) Len(ctx context.Context) (int64, error) {
	n, err := s.client.SCard(ctx, s.seen).Result()
	if err != nil {
		return 0, fmt.Errorf("producer state: %w", err)
	}
	return n, nil
}

// Cursor returns the stored cursor (cursor mode): the text of the largest cursor value
// emitted, RFC 3339 in UTC or decimal; ok is false before the first cursor run.
func (s *State) Cursor(ctx context.Context) (text string, ok bool, err error) {
	text, err = s.client.Get(ctx, s.cursor).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("producer state: %w", err)
	}
	return text, true, nil
}

// Lock is a held lock of one activation.
type Lock struct {
	state *State
	token string
	lease time.Duration
}

// Acquire takes the activation's lock for lease, or returns ErrLocked.
func (s *State) Acquire(ctx context.Context, lease time.Duration) (*Lock, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("producer lock: %w", err)
	}
	token := hex.EncodeToString(b[:])
	ok, err := s.client.SetNX(ctx, s.lock, token, lease).Result()
	if err != nil {
		return nil, fmt.Errorf("producer lock: %w", err)
	}
	if !ok {
		left, _ := s.client.PTTL(ctx, s.lock).Result()
		return nil, fmt.Errorf("%w (its lease ends within %s unless renewed)", ErrLocked, left.Round(time.Millisecond))
	}
	return &Lock{state: s, token: token, lease: lease}, nil
}

// Renew extends the lease; it returns ErrFenced when the lock is no longer the run's.
func (l *Lock) Renew(ctx context.Context) error {
	n, err := renewScript.Run(ctx, l.state.client, []string{l.state.lock}, l.token, l.lease.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("producer lock: %w", err)
	}
	if n == 0 {
		return ErrFenced
	}
	return nil
}

// Release gives the lock up, if it is still the run's.
func (l *Lock) Release(ctx context.Context) error {
	if err := releaseScript.Run(ctx, l.state.client, []string{l.state.lock}, l.token).Err(); err != nil {
		return fmt.Errorf("producer lock: %w", err)
	}
	return nil
}

// advance is what one batch records: the rows emitted, the new rows a limited backfill
// run holds, and the cursor (empty: unchanged). release removes the emitted rows from the
// held set (a backfill run); clear deletes the held set (a backfill run that emitted every
// new row of its source).
type advance struct {
	emitted, held  []uint64
	cursor         string
	release, clear bool
}

// Advance records a, in the same script that checks the lock still holds the run's token
// (the fence): a run that lost its lock records nothing and gets ErrFenced.
func (l *Lock) Advance(ctx context.Context, a advance) error {
	if len(a.emitted) == 0 && len(a.held) == 0 && a.cursor == "" && !a.clear {
		return nil
	}
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	args := make([]any, 0, len(a.emitted)+len(a.held)+5)
	args = append(args, l.token, a.cursor, len(a.emitted), flag(a.release), flag(a.clear))
	for _, h := range a.emitted {
		args = append(args, member(h))
	}
	for _, h := range a.held {
		args = append(args, member(h))
	}
	n, err := advanceScript.Run(ctx, l.state.client, []string{l.state.lock, l.state.seen, l.state.cursor, l.state.held}, args...).Int()
	if err != nil {
		return fmt.Errorf("producer state: %w", err)
	}
	if n < 0 {
		return ErrFenced
	}
	return nil
}

// Forget deletes the activation's state, fenced like Advance.
func (l *Lock) Forget(ctx context.Context) error {
	n, err := forgetScript.Run(ctx, l.state.client, []string{l.state.lock, l.state.seen, l.state.cursor, l.state.held}, l.token).Int()
	if err != nil {
		return fmt.Errorf("producer state: %w", err)
	}
	if n < 0 {
		return ErrFenced
	}
	return nil
}
