package progress_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/invitepipe/invitepipe/internal/progress"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// TestStore runs the store's contract on miniredis and on the real Redis.
func TestStore(t *testing.T) {
	backends := map[string]func(t *testing.T) redis.UniversalClient{
		"miniredis": func(t *testing.T) redis.UniversalClient {
			return redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
		},
		"redis": func(t *testing.T) redis.UniversalClient {
			opts, err := redis.ParseURL(testenv.RedisURL(t))
			if err != nil {
				t.Fatal(err)
			}
			return redis.NewClient(opts)
		},
	}
	for name, client := range backends {
		t.Run(name, func(t *testing.T) {
			c := client(t)
			t.Cleanup(func() { c.Close() })
			s, err := progress.New(c, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			group, topic := testenv.UniqueName(t, "group"), "rows"

			if snap, err := s.Load(ctx, group, topic, 0); err != nil || snap.From != 0 || len(snap.Done) != 0 {
				t.Fatalf("Load without a record = %+v, %v; want an empty snapshot", snap, err)
			}
			// Offsets 100, 102 and 109 done.
			saved := progress.Snapshot{From: 100, Done: []byte{0b101, 0b10}}
			if err := s.Save(ctx, group, topic, 0, 3, saved); err != nil {
				t.Fatal(err)
			}
			got, err := s.Load(ctx, group, topic, 0)
			if err != nil {
				t.Fatal(err)
			}
			for o, want := range map[int64]bool{99: false, 100: true, 101: false, 102: true, 109: true, 110: false, 1000: false} {
				if got.Has(o) != want {
					t.Errorf("Has(%d) = %v; want %v", o, got.Has(o), want)
				}
			}
			if err := s.Save(ctx, group, topic, 0, 2, progress.Snapshot{From: 100}); !errors.Is(err, progress.ErrFenced) {
				t.Errorf("Save by an earlier generation = %v; want ErrFenced", err)
			}
			if err := s.Save(ctx, group, topic, 0, 4, progress.Snapshot{From: 200, Done: []byte{1}}); err != nil {
				t.Errorf("Save by a later generation = %v; want nil", err)
			}
			if err := s.Clear(ctx, group, topic, []int{0}); err != nil {
				t.Fatal(err)
			}
			if snap, _ := s.Load(ctx, group, topic, 0); snap.Has(200) {
				t.Error("the record survived Clear")
			}
		})
	}
	if _, err := progress.New(nil, time.Second); err == nil {
		t.Error("New with a ttl below a minute succeeded")
	}
}
