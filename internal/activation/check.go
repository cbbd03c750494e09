package activation

import (
	"errors"
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// check runs the semantic checks the schema cannot express, applies defaults, and
// returns the problems found. Values the schema already rejected (empty, wrong type) are
// not reported twice.
func (f *File) check() []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}

	destinations := make(map[string]int, len(f.Destinations))
	for i := range f.Destinations {
		d := &f.Destinations[i]
		at := fmt.Sprintf("destinations[%d]", i)
		if first, dup := destinations[d.Name]; dup && d.Name != "" {
			add(at+".name", "%q is already the name of destinations[%d]", d.Name, first)
		} else {
			destinations[d.Name] = i
		}
		checkRateLimit(add, at+".rate_limit", &d.RateLimit)
		if d.Credentials.RateLimit == nil {
			// The key's budget defaults to the destination's own: a destination alone on
			// its key is limited by its rate_limit alone.
			own := d.RateLimit
			own.Windows = slices.Clone(own.Windows)
			d.Credentials.RateLimit = &own
		} else {
			checkRateLimit(add, at+".credentials.rate_limit", d.Credentials.RateLimit)
		}
		c := d.Credentials
		if (c.UsernameEnv == "") != (c.PasswordEnv == "") {
			add(at+".credentials", "username_env and password_env go together (password grant); set both or neither")
		}
		df := d.Defaults
		checkURL(add, at+".defaults.service_redirect_uri", df.ServiceRedirectURI)
		checkURL(add, at+".defaults.product_redirect_uri", df.ProductRedirectURI)
		checkEmail(add, at+".defaults.sender_email", df.SenderEmail)
		checkEmail(add, at+".defaults.reply_to", df.ReplyTo)
	}

	ids := make(map[string]int, len(f.Activations))
	for i := range f.Activations {
		a := &f.Activations[i]
		at := fmt.Sprintf("activations[%d]", i)
		if first, dup := ids[a.ID]; dup && a.ID != "" {
			add(at+".id", "%q is already the id of activations[%d]", a.ID, first)
		} else {
			ids[a.ID] = i
		}
		var defaults Defaults
		if di, ok := destinations[a.Destination]; ok {
			defaults = f.Destinations[di].Defaults
		} else if a.Destination != "" {
			add(at+".destination", "%q is not a destination of this file (add it under destinations or fix the name)", a.Destination)
		}
		if a.InvitationType == "" {
			a.InvitationType = defaults.InvitationType
			a.InvitationTypeDefaulted = a.InvitationType != ""
		}
		if a.InvitationType == "" && a.Destination != "" {
			add(at+".invitation_type", "required: set service, product or both here or in the destination's defaults")
		}
		if a.Service != nil {
			checkURL(add, at+".service.redirect_uri", a.Service.RedirectURI)
		}
		if a.Product != nil {
			checkURL(add, at+".product.redirect_uri", a.Product.RedirectURI)
		}
		if a.InvitationType.WantsProduct() {
			p := a.Product
			switch {
			case p != nil && p.SKUPerRow && a.Mapping.ProductSKU == "":
				add(at+".mapping.product_sku", "required when product.sku_per_row is true: name the column that holds the SKU")
			case p != nil && p.SKUPerRow && len(p.SKUs) > 0:
				add(at+".product.skus", "set either sku_per_row or skus, not both")
			case p == nil || !p.SKUPerRow && len(p.SKUs) == 0:
				add(at+".product.skus", "required for %s invitations: list the SKUs, or set sku_per_row: true and map product_sku", a.InvitationType)
			}
		}
		checkEmail(add, at+".sender_email", a.SenderEmail)
		checkEmail(add, at+".reply_to", a.ReplyTo)
		if a.RawMaxAge != "" {
			d, err := parseAge(a.RawMaxAge)
			switch {
			case err != nil:
				add(at+".max_age", "%q %v", a.RawMaxAge, err)
			case d < MinMaxAge:
				add(at+".max_age", "%s is shorter than a minute: a row may wait minutes for its budget; use 1m or more (e.g. 30d)", a.RawMaxAge)
			default:
				a.MaxAge = d
			}
		}
		if a.RawSchedule != "" {
			d, err := time.ParseDuration(a.RawSchedule)
			switch {
			case err != nil:
				add(at+".schedule", "%q is not a duration such as 15m", a.RawSchedule)
			case d < time.Second:
				add(at+".schedule", "%s is shorter than a second", d)
			default:
				a.Schedule = d
			}
		}
	}
	return ps
}

// checkRateLimit applies Trustpilot's guidance to the absent windows of r, at path, and
// sets the lengths of its further windows.
func checkRateLimit(add func(string, string, ...any), path string, r *RateLimit) {
	if r.Per5Min == 0 {
		r.Per5Min = DefaultPer5Min
	}
	if r.PerHour == 0 {
		r.PerHour = DefaultPerHour
	}
	for j := range r.Windows {
		checkRateWindow(add, fmt.Sprintf("%s.windows[%d].per", path, j), &r.Windows[j])
	}
}

// ageTerm is one term of a max_age: a number and its unit.
var ageTerm = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)([dhms])`)

// Errors of parseAge, which complete a sentence that starts with the value.
var (
	errNotAge  = errors.New("is not a duration such as 30d, 12h or 90m")
	errAgeLong = errors.New("is too long: use at most 106751d (about 292 years)")
)

// parseAge parses a sum of terms such as 30d, 1d12h or 90m: Go durations in hours,
// minutes and seconds, plus d for days of 24 hours.
func parseAge(s string) (time.Duration, error) {
	if s == "" {
		return 0, errNotAge
	}
	var total time.Duration
	for rest := s; rest != ""; {
		m := ageTerm.FindStringSubmatch(rest)
		if m == nil {
			return 0, errNotAge
		}
		rest = rest[len(m[0]):]
		num, unit, days := m[1], m[2], 1
		if unit == "d" {
			// A day is 24 hours: as many hours, 24 times (exact for fractions such as 1.5d).
			unit, days = "h", 24
		}
		d, err := time.ParseDuration(num + unit)
		if err != nil || d > math.MaxInt64/time.Duration(days) {
			return 0, errAgeLong // the term matched, so only its size can be wrong
		}
		d *= time.Duration(days)
		if total > math.MaxInt64-d {
			return 0, errAgeLong
		}
		total += d
	}
	return total, nil
}

// checkRateWindow sets w.Per from w.RawPer, or reports why it cannot.
func checkRateWindow(add func(string, string, ...any), path string, w *RateWindow) {
	d, err := time.ParseDuration(w.RawPer)
	switch {
	case err != nil:
		add(path, "%q is not a duration such as 1m or 30s", w.RawPer)
	case d < MinRateWindow:
		add(path, "%s is shorter than a second: Trustpilot counts calls over minutes; use 1s or more", w.RawPer)
	case d > MaxRateWindow:
		add(path, "%s is longer than a day: use at most 24h", w.RawPer)
	default:
		w.Per = d
	}
}

// checkURL reports a set URL that is not absolute https: Trustpilot redirects consumers
// there after they review.
func checkURL(add func(string, string, ...any), path, raw string) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		add(path, "%q is not an absolute https URL (e.g. https://shop.example/thanks)", raw)
	}
}

// checkEmail reports a set value that is not a bare email address.
func checkEmail(add func(string, string, ...any), path, raw string) {
	if raw == "" {
		return
	}
	if !ValidEmail(raw) {
		add(path, "%q is not an email address (write it bare, e.g. reviews@shop.example)", raw)
	}
}

// ValidEmail reports whether s is a bare address (no display name, no comments) with a
// dotted domain, as Trustpilot accepts it.
func ValidEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	domain := s[strings.LastIndexByte(s, '@')+1:]
	return strings.Contains(strings.Trim(domain, "."), ".")
}
