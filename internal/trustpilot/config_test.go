package trustpilot

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	valid := func() Config { return Config{APIKey: testKey, APISecret: testSecret} }
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string // each contained in the error; none: valid
	}{
		{"defaults", func(*Config) {}, nil},
		{"password grant", func(c *Config) { c.Grant, c.Username, c.Password = GrantPassword, "u", "p" }, nil},
		{"base URLs with a path and a trailing slash", func(c *Config) {
			c.APIBaseURL, c.InvitationsBaseURL = "http://127.0.0.1:8080/tp/", "http://127.0.0.1:8080/tp/"
		}, nil},
		{"missing key and secret", func(c *Config) { c.APIKey, c.APISecret = "", "" }, []string{"APIKey is required", "APISecret is required"}},
		{"relative base URL", func(c *Config) { c.APIBaseURL = "api.trustpilot.com" }, []string{"APIBaseURL", "absolute http(s) URL"}},
		{"ftp base URL", func(c *Config) { c.InvitationsBaseURL = "ftp://invitations-api.trustpilot.com" }, []string{"InvitationsBaseURL", "absolute http(s) URL"}},
		{"base URL with credentials, not echoed", func(c *Config) { c.APIBaseURL = "https://me:hunter2@api.trustpilot.com" }, []string{"APIBaseURL", "must not carry credentials"}},
		{"base URL with a query", func(c *Config) { c.APIBaseURL = "https://api.trustpilot.com?x=1" }, []string{"APIBaseURL", "query"}},
		{"unparseable base URL", func(c *Config) { c.APIBaseURL = "http://[::1" }, []string{"APIBaseURL", "not a URL"}},
		{"secret from a file with a newline", func(c *Config) { c.APISecret = testSecret + "\n" }, []string{"APISecret has leading, trailing or line-break whitespace"}},
		{"business user id with a space", func(c *Config) { c.BusinessUserID = " " + testUser }, []string{"BusinessUserID has"}},
		{"unknown grant", func(c *Config) { c.Grant = "refresh_token" }, []string{`Grant "refresh_token" is unknown`}},
		{"password grant without credentials", func(c *Config) { c.Grant = GrantPassword }, []string{"needs Username and Password"}},
		{"credentials without password grant", func(c *Config) { c.Username = "u" }, []string{"used only with Grant"}},
		{"negative durations", func(c *Config) { c.RequestTimeout, c.TokenExpirySkew = -1, -1 }, []string{"RequestTimeout", "TokenExpirySkew"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.modify(&cfg)
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if _, err := New(cfg); err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want an error mentioning %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), testSecret) {
				t.Errorf("error %q shows a secret", err)
			}
			if _, err := New(cfg); err == nil {
				t.Errorf("New accepted the invalid config")
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{APIBaseURL: "http://127.0.0.1:1/x/"}.withDefaults()
	if c.APIBaseURL != "http://127.0.0.1:1/x" || c.InvitationsBaseURL != DefaultInvitationsBaseURL ||
		c.Grant != GrantClientCredentials || c.RequestTimeout != DefaultRequestTimeout ||
		c.TokenExpirySkew != DefaultTokenExpirySkew || c.UserAgent != DefaultUserAgent || c.Now == nil {
		t.Errorf("withDefaults = %+v", c)
	}
}
