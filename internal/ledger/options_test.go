package ledger_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/invitepipe/invitepipe/internal/ledger"
)

func TestNewValidatesOptions(t *testing.T) {
	tests := []struct {
		name      string
		nilClient bool
		opts      ledger.Options
		// want lists the fields the error must name; empty means valid.
		want []string
	}{
		{name: "zero values take the defaults"},
		{name: "explicit values", opts: ledger.Options{Lease: 30 * time.Second, Retention: 24 * time.Hour, KeyPrefix: "shop:ledger:"}},
		{name: "negative lease", opts: ledger.Options{Lease: -time.Second}, want: []string{"Options.Lease"}},
		{name: "sub-millisecond retention", opts: ledger.Options{Retention: time.Microsecond}, want: []string{"Options.Retention"}},
		{name: "prefix with a hash tag", opts: ledger.Options{KeyPrefix: "{ledger}:"}, want: []string{"Options.KeyPrefix"}},
		{name: "no client", nilClient: true, want: []string{"client is nil"}},
		{name: "every problem at once", opts: ledger.Options{Lease: -1, Retention: -1, KeyPrefix: "}"}, want: []string{"Options.Lease", "Options.Retention", "Options.KeyPrefix"}},
	}
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := redis.UniversalClient(client)
			if tc.nilClient {
				c = nil
			}
			l, err := ledger.New(c, tc.opts)
			if len(tc.want) == 0 {
				if err != nil || l == nil {
					t.Fatalf("got %v, want a ledger", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want one naming %v", tc.want)
			}
			for _, field := range tc.want {
				if !strings.Contains(err.Error(), field) {
					t.Errorf("error %q does not name %s", err, field)
				}
			}
		})
	}
}
