package destination

import (
	"errors"
	"fmt"
	"net/http"
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
	// Limits are the call budgets shared by every replica: per 5 minutes, per hour, then
	// the activation file's further windows.
	Limits []ratelimit.Limit
}

// LookupEnv reads an environment variable; os.LookupEnv in production.
type LookupEnv func(name string) (string, bool)

// Build returns a Destination per destination of f, keyed by name. hc may be nil.
func Build(f *activation.File, tp config.Trustpilot, lookup LookupEnv, hc *http.Client) (map[string]*Destination, error) {
	out := make(map[string]*Destination, len(f.Destinations))
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
			Limits:         limits(d.RateLimit),
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// limits returns every window of r: 5 minutes, 1 hour, then the file's further windows.
func limits(r activation.RateLimit) []ratelimit.Limit {
	out := []ratelimit.Limit{
		{Count: r.Per5Min, Window: 5 * time.Minute},
		{Count: r.PerHour, Window: time.Hour},
	}
	for _, w := range r.Windows {
		out = append(out, ratelimit.Limit{Count: w.Calls, Window: w.Per})
	}
	return out
}

// clientConfig reads d's secrets and returns its client configuration.
func clientConfig(d activation.Destination, tp config.Trustpilot, lookup LookupEnv) (trustpilot.Config, error) {
	var missing []string
	read := func(name string) string {
		if name == "" {
			return ""
		}
		v, ok := lookup(name)
		if !ok || strings.TrimSpace(v) == "" {
			missing = append(missing, name)
			return ""
		}
		// A secret mounted from a file often ends in a newline; it is never part of it.
		return strings.TrimSpace(v)
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
