package activation

import (
	"time"
)

// File is a whole activation file.
type File struct {
	Destinations []Destination `yaml:"destinations"`
	Activations  []Activation  `yaml:"activations"`
}

// Destination is one Trustpilot business unit and how to reach it.
type Destination struct {
	Name           string      `yaml:"name"`
	BusinessUnitID string      `yaml:"business_unit_id"`
	Credentials    Credentials `yaml:"credentials"`
	RateLimit      RateLimit   `yaml:"rate_limit"`
	Defaults       Defaults    `yaml:"defaults"`
}

// Credentials names the environment variables that hold a destination's secrets.
type Credentials struct {
	APIKeyEnv    string `yaml:"api_key_env"`
	APISecretEnv string `yaml:"api_secret_env"`
	// BusinessUserIDEnv, when set, names the business user id sent as x-business-user-id
	// with a client_credentials token.
	BusinessUserIDEnv string `yaml:"business_user_id_env"`
	// UsernameEnv and PasswordEnv, when set, select the password grant.
	UsernameEnv string `yaml:"username_env"`
	PasswordEnv string `yaml:"password_env"`
	// RateLimit is the budget of the API key, which Trustpilot counts per key, not per
	// business unit: every destination whose API key has the same value shares one key
	// budget, in which each window length gets the smallest count any of them declares.
	// Absent from the file, it is the destination's RateLimit; declared, its absent
	// windows take Trustpilot's guidance like RateLimit's. After Load it is never nil.
	RateLimit *RateLimit `yaml:"rate_limit"`
}

// RateLimit is a call budget, shared by every replica: a destination's own
// (Destination.RateLimit) or its API key's (Credentials.RateLimit). All its windows apply
// at once: a call waits until every one of them has room. Counts go from 1 to 10^15; a
// count of ratelimit.Unlimited (1,000,000) or more means no limit in that window.
type RateLimit struct {
	// Per5Min is the most calls in any 5-minute window. Default 833.
	Per5Min int `yaml:"per_5min"`
	// PerHour is the most calls in any hour. Default 10000.
	PerHour int `yaml:"per_hour"`
	// Windows are further budgets, for a contract whose windows differ from Trustpilot's
	// guidance (e.g. at most 100 calls per minute). They apply on top of Per5Min and
	// PerHour, never instead. Default none.
	Windows []RateWindow `yaml:"windows"`
}

// RateWindow is one further budget: at most Calls calls in any window of length Per.
type RateWindow struct {
	// Calls is the most calls in any window.
	Calls int `yaml:"calls"`
	// Per is the window's length, from 1s to 24h. Set by Load from RawPer.
	Per time.Duration `yaml:"-"`
	// RawPer is Per as written, a duration such as 1m or 30s.
	RawPer string `yaml:"per"`
}

// Bounds of a RateWindow's length.
const (
	MinRateWindow = time.Second
	MaxRateWindow = 24 * time.Hour
)

// Trustpilot's recommended budget, the default of every destination.
const (
	DefaultPer5Min = 833
	DefaultPerHour = 10000
)

// Defaults are a destination's default activation settings.
type Defaults struct {
	InvitationType     InvitationType `yaml:"invitation_type"`
	ServiceTemplateID  string         `yaml:"service_template_id"`
	ServiceRedirectURI string         `yaml:"service_redirect_uri"`
	ServiceTags        []string       `yaml:"service_tags"`
	ProductTemplateID  string         `yaml:"product_template_id"`
	ProductRedirectURI string         `yaml:"product_redirect_uri"`
	SenderName         string         `yaml:"sender_name"`
	SenderEmail        string         `yaml:"sender_email"`
	ReplyTo            string         `yaml:"reply_to"`
}

// InvitationType says which review invitations a row asks for.
type InvitationType string

// The invitation types.
const (
	Service InvitationType = "service"
	Product InvitationType = "product"
	Both    InvitationType = "both"
)

// WantsService reports whether the type includes a service review invitation.
func (t InvitationType) WantsService() bool { return t == Service || t == Both }

// WantsProduct reports whether the type includes a product review invitation.
func (t InvitationType) WantsProduct() bool { return t == Product || t == Both }

// Activation sends the rows of one model to one destination.
type Activation struct {
	// ID is [a-z0-9-]+, unique in the file; it prefixes every row key.
	ID          string `yaml:"id"`
	Destination string `yaml:"destination"`
	// InvitationType is this activation's type; empty means the destination's default.
	// After Load it is always set (see InvitationTypeDefaulted).
	InvitationType InvitationType `yaml:"invitation_type"`
	// InvitationTypeDefaulted reports that the activation left invitation_type out and
	// Load took the destination's default.
	InvitationTypeDefaulted bool             `yaml:"-"`
	Service                 *ServiceSettings `yaml:"service"`
	Product                 *ProductSettings `yaml:"product"`
	SenderName              string           `yaml:"sender_name"`
	SenderEmail             string           `yaml:"sender_email"`
	ReplyTo                 string           `yaml:"reply_to"`
	Mapping                 Mapping          `yaml:"mapping"`
	// Source is the producer's source, kept as written: the producer interprets it.
	Source map[string]any `yaml:"source"`
	// Schedule is how often the producer reads the source; zero when absent.
	Schedule time.Duration `yaml:"-"`
	// RawSchedule is Schedule as written.
	RawSchedule string `yaml:"schedule"`
	// MaxAge is how old (by its emitted_at) a row may be when its turn comes: an older
	// row is dead-lettered as stale, never sent late. Zero when absent: rows never age.
	// At least MinMaxAge.
	MaxAge time.Duration `yaml:"-"`
	// RawMaxAge is MaxAge as written: a Go duration or a number of days, e.g. 30d, 12h,
	// 90m, 1d12h.
	RawMaxAge string `yaml:"max_age"`
}

// MinMaxAge is the shortest MaxAge: a row waits for its budget for minutes, not seconds.
const MinMaxAge = time.Minute

// ServiceSettings are an activation's service review settings.
type ServiceSettings struct {
	TemplateID  string   `yaml:"template_id"`
	RedirectURI string   `yaml:"redirect_uri"`
	Tags        []string `yaml:"tags"`
}

// ProductSettings are an activation's product review settings.
type ProductSettings struct {
	TemplateID  string `yaml:"template_id"`
	RedirectURI string `yaml:"redirect_uri"`
	// SKUPerRow takes each row's SKU from Mapping.ProductSKU; otherwise SKUs applies to
	// every row.
	SKUPerRow bool     `yaml:"sku_per_row"`
	SKUs      []string `yaml:"skus"`
}

// Mapping maps Trustpilot fields to columns of the row. Empty means not mapped.
type Mapping struct {
	ConsumerName    string `yaml:"consumer_name"`
	ConsumerEmail   string `yaml:"consumer_email"`
	ReferenceNumber string `yaml:"reference_number"`
	ReplyTo         string `yaml:"reply_to"`
	Locale          string `yaml:"locale"`
	SenderName      string `yaml:"sender_name"`
	SenderEmail     string `yaml:"sender_email"`
	LocationID      string `yaml:"location_id"`
	Tags            string `yaml:"tags"`
	ProductSKU      string `yaml:"product_sku"`
}

// Destination returns the destination named name.
func (f *File) Destination(name string) (*Destination, bool) {
	for i := range f.Destinations {
		if f.Destinations[i].Name == name {
			return &f.Destinations[i], true
		}
	}
	return nil, false
}

// Activation returns the activation with id.
func (f *File) Activation(id string) (*Activation, bool) {
	for i := range f.Activations {
		if f.Activations[i].ID == id {
			return &f.Activations[i], true
		}
	}
	return nil, false
}
