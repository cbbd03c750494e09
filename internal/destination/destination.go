package destination

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/ratelimit"
	"github.com/invitepipe/invitepipe/internal/trustpilot"
)

// Destination is a destination ready to be called.
type Destination struct {
	Name           string
	BusinessUnitID string
	Client         *trustpilot.Client
	// Budget is what each call counts against, shared by every replica: the budget of
	// the destination's API key (shared with every destination of the same key) and the
	// destination's own rate_limit where the key's does not already imply it.
	Budget ratelimit.Budget
}

// LookupEnv reads an environment variable; os.LookupEnv in production.
type LookupEnv func(name string) (string, bool)

// Build returns a Destination per destination of f, keyed by name. hc may be nil.
func Build(f *activation.File, tp config.Trustpilot, lookup LookupEnv, hc *http.Client) (map[string]*Destination, error) {
	out := make(map[string]*Destination, len(f.Destinations))
	keys := make([]keyed, 0, len(f.Destinations))
	var errs []error
	for _, d := range f.Destinations {
		cfg, err := clientConfig(d, tp, lookup)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cfg.HTTPClient = hc
		client, err := trustpilot.New(cfg)
		if err != nil {
			errs = append(errs, fmt.Errorf("destination %s: %w", d.Name, err))
			continue
		}
		out[d.Name] = &Destination{
			Name:           d.Name,
			BusinessUnitID: d.BusinessUnitID,
			Client:         client,
		}
		keys = append(keys, keyed{dest: d, apiKey: cfg.APIKey})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	budgets, _ := plan(keys)
	for name, d := range out {
		d.Budget = budgets[name]
	}
	return out, nil
}

// KeyBudget is the budget of one API key and the destinations that share it. It holds no
// secret: the key appears only as its hash.
type KeyBudget struct {
	// Key names the API key in Redis keys and logs: "k" and the first 16 hex digits of
	// the SHA-256 of its value (ratelimit.Budget.Key).
	Key string
	// Destinations are the names of the destinations whose API key has this value, sorted.
	Destinations []string
	// Windows are the key's windows, one per length, shortest first: for each length, the
	// smallest count that the credentials.rate_limit of any of Destinations declares.
	// Those with a Count of ratelimit.Unlimited or more are listed but not enforced: they
	// are not in the Budget of the destinations.
	Windows []ratelimit.Limit
}

// Budgets returns the Budget of each destination of f, keyed by name (as Build sets
// them), and the key budgets they share, ordered by their first destination. It reads
// only the variables that hold API keys, and names every one that is not set.
func Budgets(f *activation.File, lookup LookupEnv) (map[string]ratelimit.Budget, []KeyBudget, error) {
	keys := make([]keyed, 0, len(f.Destinations))
	var errs []error
	for _, d := range f.Destinations {
		key, ok := readVar(lookup, d.Credentials.APIKeyEnv)
		if !ok {
			errs = append(errs, fmt.Errorf("destination %s: environment variable %s is not set; set it to the destination's API key (the activation file names it)",
				d.Name, d.Credentials.APIKeyEnv))
			continue
		}
		keys = append(keys, keyed{dest: d, apiKey: key})
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	budgets, groups := plan(keys)
	return budgets, groups, nil
}

// keyed is a destination and the value of its API key.
type keyed struct {
	dest   activation.Destination
	apiKey string
}

// plan groups destinations by API key value and returns each one's Budget and each key's.
func plan(ds []keyed) (map[string]ratelimit.Budget, []KeyBudget) {
	index := make(map[string]int) // key hash -> groups index
	var groups []KeyBudget
	var declared [][]ratelimit.Limit // per group, every key window any destination declares
	hashes := make([]string, len(ds))
	for i, k := range ds {
		h := keyHash(k.apiKey)
		hashes[i] = h
		g, ok := index[h]
		if !ok {
			g = len(groups)
			index[h] = g
			groups = append(groups, KeyBudget{Key: h})
			declared = append(declared, nil)
		}
		groups[g].Destinations = append(groups[g].Destinations, k.dest.Name)
		declared[g] = append(declared[g], windows(keyRateLimit(k.dest))...)
	}
	for g := range groups {
		slices.Sort(groups[g].Destinations)
		groups[g].Windows = tightest(declared[g])
	}
	budgets := make(map[string]ratelimit.Budget, len(ds))
	for i, k := range ds {
		group := groups[index[hashes[i]]]
		keyLimits := enforced(group.Windows)
		b := ratelimit.Budget{Key: hashes[i], KeyLimits: keyLimits}
		if own := notImplied(enforced(tightest(windows(k.dest.RateLimit))), keyLimits); len(own) > 0 {
			b.Destination, b.Limits = k.dest.Name, own
		}
		if len(group.Destinations) > 1 {
			b.Destination, b.Shared = k.dest.Name, true
		}
		budgets[k.dest.Name] = b
	}
	slices.SortFunc(groups, func(a, b KeyBudget) int { return strings.Compare(a.Destinations[0], b.Destinations[0]) })
	return budgets, groups
}

// keyHash names an API key without revealing it: "k" and 16 hex digits of its SHA-256.
func keyHash(apiKey string) string {
	sum := sha256.Sum256([]byte(apiKey))
	return "k" + hex.EncodeToString(sum[:8])
}

// keyRateLimit is the budget d declares for its API key: package activation sets it to
// the destination's own when the file has none, which this repeats for a File not loaded.
func keyRateLimit(d activation.Destination) activation.RateLimit {
	if d.Credentials.RateLimit != nil {
		return *d.Credentials.RateLimit
	}
	return d.RateLimit
}

// windows returns every window of r: 5 minutes, 1 hour, then the file's further windows.
func windows(r activation.RateLimit) []ratelimit.Limit {
	out := []ratelimit.Limit{
		{Count: r.Per5Min, Window: 5 * time.Minute},
		{Count: r.PerHour, Window: time.Hour},
	}
	for _, w := range r.Windows {
		out = append(out, ratelimit.Limit{Count: w.Calls, Window: w.Per})
	}
	return out
}

// tightest keeps one window per length, with the smallest count, shortest first: windows
// of one length all apply, so only the smallest binds.
func tightest(ls []ratelimit.Limit) []ratelimit.Limit {
	var out []ratelimit.Limit
	for _, l := range ls {
		i := slices.IndexFunc(out, func(o ratelimit.Limit) bool { return o.Window == l.Window })
		switch {
		case i < 0:
			out = append(out, l)
		case l.Count < out[i].Count:
			out[i].Count = l.Count
		}
	}
	slices.SortFunc(out, func(a, b ratelimit.Limit) int { return cmp.Compare(a.Window, b.Window) })
	return out
}

// enforced drops the windows that mean no limit (ratelimit.Unlimited calls or more); nil
// when none is left.
func enforced(ls []ratelimit.Limit) []ratelimit.Limit {
	var out []ratelimit.Limit
	for _, l := range ls {
		if l.Count < ratelimit.Unlimited {
			out = append(out, l)
		}
	}
	return out
}

// notImplied drops the windows of own that the key's windows already enforce: a key
// window at least as long with at most as many calls lets no window of own overflow
// (every window of own lies in one of the key's); nil when none is left.
func notImplied(own, key []ratelimit.Limit) []ratelimit.Limit {
	var out []ratelimit.Limit
	for _, o := range own {
		if !slices.ContainsFunc(key, func(k ratelimit.Limit) bool { return k.Window >= o.Window && k.Count <= o.Count }) {
			out = append(out, o)
		}
	}
	return out
}

// readVar reads the variable name, trimmed: a secret mounted from a file often ends in a
// newline, which is never part of it. It reports false when the variable is not set or
// blank.
func readVar(lookup LookupEnv, name string) (string, bool) {
	v, ok := lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// clientConfig reads d's secrets and returns its client configuration.
func clientConfig(d activation.Destination, tp config.Trustpilot, lookup LookupEnv) (trustpilot.Config, error) {
	var missing []string
	read := func(name string) string {
		if name == "" {
			return ""
		}
		v, ok := readVar(lookup, name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	}
	c := d.Credentials
	cfg := trustpilot.Config{
		APIBaseURL:         tp.APIURL,
		InvitationsBaseURL: tp.InvitationsURL,
		RequestTimeout:     tp.RequestTimeout,
		APIKey:             read(c.APIKeyEnv),
		APISecret:          read(c.APISecretEnv),
		BusinessUserID:     read(c.BusinessUserIDEnv),
		Grant:              trustpilot.GrantClientCredentials,
	}
	if c.UsernameEnv != "" {
		cfg.Grant = trustpilot.GrantPassword
		cfg.Username = read(c.UsernameEnv)
		cfg.Password = read(c.PasswordEnv)
	}
	if len(missing) > 0 {
		return cfg, fmt.Errorf("destination %s: environment variable %s is not set; set it to the destination's secret (the activation file names it)",
			d.Name, strings.Join(missing, ", "))
	}
	return cfg, nil
}
