package demo

import (
	"crypto/rand"
	"strings"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/sandbox"
)

// secrets are the values the embedded sandbox accepts, by the name of the variable the
// activation file reads them from.
type secrets map[string]string

// lookup answers the activation file's variables from s, and no other.
func (s secrets) lookup(name string) (string, bool) {
	v, ok := s[name]
	return v, ok
}

// sandboxConfig is a sandbox that knows every destination of f: its business unit, an
// API key and secret made up for this run per API key variable (destinations naming
// the same variable share the key, as they would at Trustpilot), the business user, and
// a user per username variable.
func sandboxConfig(f *activation.File, addr string) (sandbox.Config, secrets) {
	cfg := sandbox.DefaultConfig()
	if addr != "" {
		cfg.Addr = addr
	}
	cfg.Credentials, cfg.BusinessUnits, cfg.Users = nil, nil, nil
	vars := secrets{}
	units := map[string]bool{}
	for _, d := range f.Destinations {
		c := d.Credentials
		if !units[d.BusinessUnitID] {
			units[d.BusinessUnitID] = true
			cfg.BusinessUnits = append(cfg.BusinessUnits, sandbox.BusinessUnit{ID: d.BusinessUnitID, Domain: d.Name + ".example"})
		}
		if _, seen := vars[c.APIKeyEnv]; !seen {
			secret := rand.Text()
			key := "demo-" + strings.ToLower(c.APIKeyEnv)
			vars[c.APIKeyEnv], vars[c.APISecretEnv] = key, secret
			cfg.Credentials = append(cfg.Credentials, sandbox.Credential{APIKey: key, APISecret: secret})
		}
		if c.BusinessUserIDEnv != "" {
			vars[c.BusinessUserIDEnv] = sandbox.DefaultBusinessUserID
		}
		if c.UsernameEnv != "" {
			if _, seen := vars[c.UsernameEnv]; !seen {
				password := rand.Text()
				vars[c.UsernameEnv], vars[c.PasswordEnv] = "demo-"+d.Name, password
				cfg.Users = append(cfg.Users, sandbox.User{Username: "demo-" + d.Name, Password: password})
			}
		}
	}
	return cfg, vars
}
