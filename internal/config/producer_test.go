package config

import (
	"strings"
	"testing"
	"time"
)

func TestLoadProducer(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string
	}{
		{name: "defaults"},
		{
			name:    "batch size out of bounds",
			env:     map[string]string{"INVITEPIPE_PRODUCER_BATCH_SIZE": "0"},
			wantErr: []string{"INVITEPIPE_PRODUCER_BATCH_SIZE: 0 is not between 1 and 10000; use e.g. 500"},
		},
		{
			name:    "lease too short and a bad Redis mode at once",
			env:     map[string]string{"INVITEPIPE_PRODUCER_LOCK_LEASE": "1s", "INVITEPIPE_REDIS_MODE": "ring"},
			wantErr: []string{"INVITEPIPE_PRODUCER_LOCK_LEASE: 1s is shorter than 3s", `INVITEPIPE_REDIS_MODE: "ring" is not a mode`},
		},
		{
			name:    "not a duration",
			env:     map[string]string{"INVITEPIPE_PRODUCER_LOCK_LEASE": "soon"},
			wantErr: []string{`INVITEPIPE_PRODUCER_LOCK_LEASE: "soon" is not a valid time.Duration`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var cfg Producer
			err := Load(&cfg)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if cfg.BatchSize != 500 || cfg.LockLease != 30*time.Second || cfg.Topic != "invitepipe.rows" {
					t.Fatalf("defaults: batch %d, lease %s, topic %q", cfg.BatchSize, cfg.LockLease, cfg.Topic)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load succeeded, want %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
