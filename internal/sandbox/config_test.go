package sandbox

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigIsValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // in the error text
	}{
		{"empty address", func(c *Config) { c.Addr = "" }, "Addr"},
		{"no credentials", func(c *Config) { c.Credentials = nil }, "Credentials is empty"},
		{"blank secret", func(c *Config) { c.Credentials = []Credential{{APIKey: "k"}} }, "Credentials[0]"},
		{"repeated key", func(c *Config) { c.Credentials = append(c.Credentials, c.Credentials[0]) }, "repeats API key"},
		{"no business unit", func(c *Config) { c.BusinessUnits = nil }, "BusinessUnits is empty"},
		{"business unit with slash", func(c *Config) { c.BusinessUnits = []BusinessUnit{{ID: "a/b"}} }, "BusinessUnits[0]"},
		{"repeated business unit", func(c *Config) { c.BusinessUnits = append(c.BusinessUnits, c.BusinessUnits[0]) }, "repeats id"},
		{"blank business user", func(c *Config) { c.BusinessUsers = []string{" "} }, "BusinessUsers[0]"},
		{"user without password", func(c *Config) { c.Users = []User{{Username: "u"}} }, "Users[0]"},
		{"zero token TTL", func(c *Config) { c.TokenTTL = 0 }, "TokenTTL"},
		{"zero refresh TTL", func(c *Config) { c.RefreshTokenTTL = 0 }, "RefreshTokenTTL"},
		{"mint limit without window", func(c *Config) { c.MintLimit = RateWindow{Limit: 3} }, "MintLimit"},
		{"rate limit of zero", func(c *Config) { c.RateLimits = []RateWindow{{Window: time.Second}} }, "RateLimits[0]"},
		{"negative send delay", func(c *Config) { c.SendDelay = -time.Second }, "SendDelay"},
		{"negative frequency", func(c *Config) { c.FrequencyDays = -1 }, "FrequencyDays"},
		{"fault rate above 1", func(c *Config) { c.Faults.Rates = map[FaultKind]float64{Fault503: 1.5} }, "rate of"},
		{"fault rates above 1 together", func(c *Config) { c.Faults.Rates = map[FaultKind]float64{Fault503: .6, Fault500: .6} }, "add up"},
		{"unknown fault kind", func(c *Config) { c.Faults.Rates = map[FaultKind]float64{"418": .1} }, "unknown fault kind"},
		{"latency max below min", func(c *Config) { c.Faults.LatencyMin, c.Faults.LatencyMax = 2, 1 }, "latency"},
		{"forced status of unknown unit", func(c *Config) { c.Faults.Forced = map[string]ForcedStatus{"x": {Status: 403}} }, "unknown business unit"},
		{"forced status not an error", func(c *Config) {
			c.Faults.Forced = map[string]ForcedStatus{DefaultBusinessUnitID: {Status: 200}}
		}, "forced status 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig mentioning %q", err, tt.want)
			}
			if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New() = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestConfigTextForms(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		into    interface{ UnmarshalText([]byte) error }
		want    any
		wantErr bool
	}{
		{"credential", "key:se:cret", &Credential{}, &Credential{APIKey: "key", APISecret: "se:cret"}, false},
		{"credential without secret", "key", &Credential{}, nil, true},
		{"user", "ann:pw", &User{}, &User{Username: "ann", Password: "pw"}, false},
		{"user without name", ":pw", &User{}, nil, true},
		{"business unit", "abc", &BusinessUnit{}, &BusinessUnit{ID: "abc"}, false},
		{"business unit with domain", "abc=Shop.Example", &BusinessUnit{}, &BusinessUnit{ID: "abc", Domain: "shop.example"}, false},
		{"business unit without id", "=shop.example", &BusinessUnit{}, nil, true},
		{"rate window", "833/5m", &RateWindow{}, &RateWindow{Limit: 833, Window: 5 * time.Minute}, false},
		{"rate window off", "off", &RateWindow{Limit: 1}, &RateWindow{}, false},
		{"rate window without duration", "833", &RateWindow{}, nil, true},
		{"rate window bad duration", "833/5x", &RateWindow{}, nil, true},
		{"rate window zero duration", "5/0s", &RateWindow{}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.into.UnmarshalText([]byte(tt.text))
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("UnmarshalText(%q) = %v, want ErrInvalidConfig", tt.text, err)
				}
				if strings.Contains(err.Error(), "cret") {
					t.Fatalf("error %q shows a secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("UnmarshalText(%q) = %v", tt.text, err)
			}
			got, _ := json.Marshal(tt.into)
			want, _ := json.Marshal(tt.want)
			if string(got) != string(want) {
				t.Fatalf("UnmarshalText(%q) = %s, want %s", tt.text, got, want)
			}
		})
	}
}

func TestSecretsStayHiddenInText(t *testing.T) {
	for _, s := range []string{Credential{"k", "s3cr3t"}.String(), User{"u", "s3cr3t"}.String()} {
		if strings.Contains(s, "s3cr3t") {
			t.Errorf("String() = %q shows the secret", s)
		}
	}
}

func TestFaultsJSON(t *testing.T) {
	in := Faults{
		LatencyMin: 10 * time.Millisecond, LatencyMax: time.Second,
		Rates:  map[FaultKind]float64{Fault520: 0.25},
		Forced: map[string]ForcedStatus{DefaultBusinessUnitID: {Status: 403, ErrorCode: 1014}},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"latencyMin":"10ms","latencyMax":"1s"`; !strings.Contains(string(b), want) {
		t.Fatalf("Marshal = %s, want it to hold %s", b, want)
	}
	var out Faults
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	back, _ := json.Marshal(out)
	if string(back) != string(b) {
		t.Fatalf("round trip = %s, want %s", back, b)
	}
	for _, bad := range []string{`{"rate":{}}`, `{"latencyMin":"soon"}`, `[]`} {
		if err := json.Unmarshal([]byte(bad), &out); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Unmarshal(%s) = %v, want ErrInvalidConfig", bad, err)
		}
	}
}

func TestFaultLatencyStaysInRange(t *testing.T) {
	f := Faults{LatencyMin: 5 * time.Millisecond, LatencyMax: 7 * time.Millisecond}
	for range 200 {
		if d := f.latency(); d < f.LatencyMin || d > f.LatencyMax {
			t.Fatalf("latency() = %s, outside [%s, %s]", d, f.LatencyMin, f.LatencyMax)
		}
	}
	if d := (Faults{LatencyMin: time.Second, LatencyMax: time.Second}).latency(); d != time.Second {
		t.Fatalf("fixed latency() = %s, want 1s", d)
	}
}
