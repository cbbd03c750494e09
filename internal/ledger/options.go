package ledger

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults of Options.
const (
	DefaultLease     = 2 * time.Minute
	DefaultRetention = 9600 * time.Hour // 400 days
	DefaultKeyPrefix = "ip:l:"
)

// epochLength is the time slice of the key layout: references confirmed in one slice share
// its keys, which expire together. It is part of the layout, not a setting: with another
// length the same reference maps to other keys, so changing it would forget every
// confirmed reference.
const epochLength = 30 * 24 * time.Hour

// Options configures a Ledger. The zero value of a field selects its default.
type Options struct {
	// Lease is how long a reservation stays its owner's without a word from it: after it,
	// an unconfirmed reservation is an unknown outcome. It must be longer than one call to
	// Trustpilot with its timeout. Default 2m; at least 1ms.
	Lease time.Duration
	// Retention is how long a confirmed reference number is remembered: at least
	// Retention, at most Retention plus 30 days (the layout's time slice). Changing it is
	// safe: a longer retention cannot revive what already expired, a shorter one forgets
	// sooner. Default 9600h (400 days, longer than Trustpilot's default once-a-year
	// invitation frequency); at least 1ms.
	Retention time.Duration
	// KeyPrefix starts every key the ledger writes. It must not contain '{' or '}' (the
	// hash tag that keeps one reference's keys in one Redis Cluster slot comes after it).
	// Default "ip:l:".
	KeyPrefix string
	// Batch sends the operations of concurrent callers together (package redisbatch):
	// as many as arrive while a batch is under way (at most 128) go in the next one. Each
	// operation stays atomic and answers as it would alone; Redis is spared a script call
	// per operation, most of its cost. On a *redis.Client (one server, or a Sentinel
	// failover client) a call carries any operations; on other clients (Cluster, Ring, an
	// autopipeliner) a call carries those of one hash tag, and a batch's calls go in one
	// pipeline. Give Batch the plain client: an autopipeliner hides which it is. Default
	// false: one script call per operation.
	Batch bool
	// BatchDelay is how long a batch waits for more operations (with Batch). Default 0:
	// none beyond a batch under way.
	BatchDelay time.Duration

	// now and epoch replace the client clock and epochLength in tests (export_test.go).
	now   func() time.Time
	epoch time.Duration
}

// withDefaults returns o with every zero field replaced by its default.
func (o Options) withDefaults() Options {
	if o.Lease == 0 {
		o.Lease = DefaultLease
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.epoch == 0 {
		o.epoch = epochLength
	}
	return o
}

// validate returns every problem of o (after defaults), each naming the field and the fix.
func (o Options) validate() error {
	var errs []error
	if o.Lease < time.Millisecond {
		errs = append(errs, fmt.Errorf("ledger: Options.Lease %v is shorter than 1ms; use a duration longer than one call to Trustpilot, e.g. 2m, or 0 for the default", o.Lease))
	}
	if o.Retention < time.Millisecond {
		errs = append(errs, fmt.Errorf("ledger: Options.Retention %v is shorter than 1ms; use how long a sent reference is remembered, e.g. 9600h, or 0 for the default", o.Retention))
	}
	if strings.ContainsAny(o.KeyPrefix, "{}") {
		errs = append(errs, fmt.Errorf("ledger: Options.KeyPrefix %q contains a brace; use a prefix without '{' and '}', e.g. %q", o.KeyPrefix, DefaultKeyPrefix))
	}
	return errors.Join(errs...)
}
