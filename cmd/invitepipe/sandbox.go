package main

import (
	"context"
	"encoding"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/invitepipe/invitepipe/internal/logging"
	"github.com/invitepipe/invitepipe/internal/sandbox"
)

// runSandbox serves the Trustpilot API simulator until ctx is done.
func runSandbox(ctx context.Context, args []string, stdout io.Writer) error {
	opts, err := parseSandboxArgs(args, os.LookupEnv, stdout)
	if err != nil {
		return err
	}
	log, err := logging.New(stdout, opts.logLevel)
	if err != nil {
		return err
	}
	srv, err := sandbox.New(opts.cfg, sandbox.WithLogger(log))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.cfg.Addr, err)
	}
	writeSandboxSession(stdout, opts.cfg, "http://"+ln.Addr().String())
	return srv.Serve(ctx, ln)
}

// sandboxOptions are the parsed flags of `invitepipe sandbox`.
type sandboxOptions struct {
	cfg      sandbox.Config
	logLevel string
}

// sandboxFlag is one flag, the name of its value in the usage, and the variable that
// sets its default.
type sandboxFlag struct {
	name, arg, env, usage string
}

// parseSandboxArgs reads the INVITEPIPE_SANDBOX_* variables through lookupEnv, then
// the flags, which win. On --help it writes the usage to out and returns flag.ErrHelp.
func parseSandboxArgs(args []string, lookupEnv func(string) (string, bool), out io.Writer) (sandboxOptions, error) {
	cfg := sandbox.DefaultConfig()
	opts := sandboxOptions{logLevel: "info"}
	var faults []faultRate
	var forced []forcedStatus
	fs := flag.NewFlagSet("invitepipe sandbox", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}

	var defs []sandboxFlag
	def := func(name, arg, env, usage string) {
		defs = append(defs, sandboxFlag{name, arg, "INVITEPIPE_SANDBOX_" + env, usage})
	}
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "")
	def("addr", "HOST:PORT", "ADDR", "listen address; loopback by default")
	fs.Var(textList(&cfg.Credentials, credentialText), "credentials", "")
	def("credentials", "KEY:SECRET", "CREDENTIALS", "accepted API key and secret, KEY:SECRET (repeatable)")
	fs.Var(textList(&cfg.BusinessUnits, sandbox.BusinessUnit.String), "business-unit", "")
	def("business-unit", "ID[=DOMAIN]", "BUSINESS_UNITS", "business unit, ID or ID=domain for the business-unit lookup (repeatable)")
	fs.Var(newList(&cfg.BusinessUsers, func(s string) (string, error) { return s, nil }, func(s string) string { return s }), "business-user", "")
	def("business-user", "ID", "BUSINESS_USERS", "business user id that client_credentials calls must send in x-business-user-id (repeatable; an empty value: header not checked)")
	fs.Var(textList(&cfg.Users, userText), "user", "")
	def("user", "NAME:PASSWORD", "USERS", "user of the password grant, NAME:PASSWORD (repeatable)")
	fs.DurationVar(&cfg.TokenTTL, "token-ttl", cfg.TokenTTL, "")
	def("token-ttl", "DURATION", "TOKEN_TTL", "access token lifetime; calls with an older token get 401")
	fs.DurationVar(&cfg.RefreshTokenTTL, "refresh-token-ttl", cfg.RefreshTokenTTL, "")
	def("refresh-token-ttl", "DURATION", "REFRESH_TOKEN_TTL", "refresh token lifetime (password and refresh_token grants)")
	fs.TextVar(&cfg.MintLimit, "mint-limit", cfg.MintLimit, "")
	def("mint-limit", "LIMIT/DURATION", "MINT_LIMIT", "tokens one API key may mint per sliding window, LIMIT/DURATION or off; beyond: 429")
	fs.Var(textList(&cfg.RateLimits, sandbox.RateWindow.String), "rate-limit", "")
	def("rate-limit", "LIMIT/DURATION", "RATE_LIMIT", "invitation-host calls per API key per sliding window, LIMIT/DURATION (repeatable; shorten windows to speed tests up, e.g. 50/5s; an empty value: no limit); beyond: 429")
	fs.BoolVar(&cfg.RetryAfter, "retry-after", cfg.RetryAfter, "")
	def("retry-after", "", "RETRY_AFTER", "add Retry-After (seconds) to 429s, which the real API does not send")
	fs.DurationVar(&cfg.SendDelay, "send-delay", cfg.SendDelay, "")
	def("send-delay", "DURATION", "SEND_DELAY", "when an invitation without preferredSendTime is sent, after acceptance")
	fs.IntVar(&cfg.FrequencyDays, "frequency-days", cfg.FrequencyDays, "")
	def("frequency-days", "DAYS", "FREQUENCY_DAYS", "one invitation per email per business unit per this many days, checked at send time; 0: no limit")
	fs.DurationVar(&cfg.Faults.LatencyMin, "latency-min", cfg.Faults.LatencyMin, "")
	def("latency-min", "DURATION", "LATENCY_MIN", "least added latency of invitation-host calls")
	fs.DurationVar(&cfg.Faults.LatencyMax, "latency-max", cfg.Faults.LatencyMax, "")
	def("latency-max", "DURATION", "LATENCY_MAX", "most added latency (uniform between min and max)")
	fs.Var(newList(&faults, parseFaultRate, faultRate.String), "fault", "")
	def("fault", "KIND=RATE", "FAULTS", "inject a fault into invitation-host calls, KIND=RATE with RATE in 0..1 (repeatable); KIND is one of 500 500fault 503 520 403html 429 timeout accept+500 accept+timeout (accept+* record the invitation, then fail)")
	fs.Var(newList(&forced, parseForcedStatus, forcedStatus.String), "force-status", "")
	def("force-status", "ID=STATUS[:ERRORCODE]", "FORCE_STATUS", "answer every invitation-host call for a business unit with a status, ID=STATUS[:ERRORCODE], e.g. ID=403:1014 (repeatable; change at runtime with PUT /_sandbox/faults)")
	fs.StringVar(&opts.logLevel, "log-level", opts.logLevel, "")
	def("log-level", "LEVEL", "LOG_LEVEL", "log level of the JSON request log on stdout: trace, debug, info, warn, error")

	for _, d := range defs {
		v, ok := lookupEnv(d.env)
		if !ok {
			continue
		}
		f := fs.Lookup(d.name)
		var err error
		if l, isList := f.Value.(envSetter); isList {
			err = l.setEnv(v)
		} else {
			err = f.Value.Set(v)
		}
		if err != nil {
			return opts, fmt.Errorf("%s=%q: %w", d.env, v, err)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeSandboxUsage(out, fs, defs)
			return opts, flag.ErrHelp
		}
		return opts, fmt.Errorf("%w (see invitepipe sandbox --help)", err)
	}
	if fs.NArg() > 0 {
		return opts, fmt.Errorf("unexpected argument %q (see invitepipe sandbox --help)", fs.Arg(0))
	}
	for _, f := range faults {
		if cfg.Faults.Rates == nil {
			cfg.Faults.Rates = map[sandbox.FaultKind]float64{}
		}
		cfg.Faults.Rates[f.kind] = f.rate
	}
	for _, f := range forced {
		if cfg.Faults.Forced == nil {
			cfg.Faults.Forced = map[string]sandbox.ForcedStatus{}
		}
		cfg.Faults.Forced[f.businessUnit] = f.status
	}
	opts.cfg = cfg
	return opts, cfg.Validate()
}

func writeSandboxUsage(w io.Writer, fs *flag.FlagSet, defs []sandboxFlag) {
	fmt.Fprintln(w, "Usage: invitepipe sandbox [flags]")
	fmt.Fprintln(w, "\nA local Trustpilot API simulator: the token, business-unit and invitation paths of both")
	fmt.Fprintln(w, "Trustpilot hosts on one address, plus /_sandbox/{invitations,stats,reset,faults} and an")
	fmt.Fprintln(w, "Invitation history page at /. Each flag's default may be set by its environment variable;")
	fmt.Fprintln(w, "flags win. Repeatable flags also take comma-separated values, and replace the default.")
	fmt.Fprintln(w, "\nFlags:")
	for _, d := range defs {
		f := fs.Lookup(d.name)
		fmt.Fprintf(w, "  --%s %s\n      %s\n      default %q, env %s\n", d.name, d.arg, d.usage, f.DefValue, d.env)
	}
}

// writeSandboxSession prints the sandbox's address, credentials and a curl session to
// try it. A secret is printed only when it is the public default.
func writeSandboxSession(w io.Writer, cfg sandbox.Config, base string) {
	cred, unit := cfg.Credentials[0], cfg.BusinessUnits[0]
	secret := "<the secret you configured>"
	if cred.APISecret == sandbox.DefaultAPISecret {
		secret = cred.APISecret
	}
	userHeader := ""
	fmt.Fprintf(w, "invitepipe sandbox: a Trustpilot API simulator on %s\n", base)
	fmt.Fprintf(w, "  point INVITEPIPE_TRUSTPILOT_API_URL and INVITEPIPE_TRUSTPILOT_INVITATIONS_URL here\n")
	fmt.Fprintf(w, "  API key        %s\n  API secret     %s\n  business unit  %s", cred.APIKey, secret, unit.ID)
	if unit.Domain != "" {
		fmt.Fprintf(w, " (find it by name %s)", unit.Domain)
	}
	fmt.Fprintln(w)
	if len(cfg.BusinessUsers) > 0 {
		fmt.Fprintf(w, "  business user  %s (header x-business-user-id)\n", cfg.BusinessUsers[0])
		userHeader = fmt.Sprintf(" -H 'x-business-user-id: %s'", cfg.BusinessUsers[0])
	}
	fmt.Fprintf(w, "  history        %s/\n\nTry it:\n", base)
	fmt.Fprintf(w, "SANDBOX=%s\n", base)
	fmt.Fprintf(w, "TOKEN=$(curl -s -u '%s:%s' -d grant_type=client_credentials \\\n", cred.APIKey, secret)
	fmt.Fprintf(w, "  \"$SANDBOX/v1/oauth/oauth-business-users-for-applications/accesstoken\" | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\n")
	fmt.Fprintf(w, "curl -si \"$SANDBOX/v1/private/business-units/%s/email-invitations\" \\\n", unit.ID)
	fmt.Fprintf(w, "  -H \"Authorization: Bearer $TOKEN\"%s -H 'Content-Type: application/json' \\\n", userHeader)
	fmt.Fprintf(w, "  -d '{\"consumerEmail\":\"ann@example.com\",\"consumerName\":\"Ann Lee\",\"referenceNumber\":\"A-1001\",\"locale\":\"en-US\",\"type\":\"email\",\"serviceReviewInvitation\":{}}'\n")
	fmt.Fprintf(w, "curl -s \"$SANDBOX/_sandbox/invitations\"\n\n")
}

// envSetter is a list flag: a value from the environment replaces the default, and
// the first value on the command line replaces that again.
type envSetter interface{ setEnv(string) error }

// listFlag is a repeatable flag of T; each value may hold several, comma-separated.
type listFlag[T any] struct {
	items  *[]T
	parse  func(string) (T, error)
	format func(T) string
	given  bool // set on the command line: later values append
}

func newList[T any](items *[]T, parse func(string) (T, error), format func(T) string) *listFlag[T] {
	return &listFlag[T]{items: items, parse: parse, format: format}
}

// textList is a listFlag of a type that parses itself (encoding.TextUnmarshaler).
func textList[T any, P interface {
	*T
	encoding.TextUnmarshaler
}](items *[]T, format func(T) string) *listFlag[T] {
	return newList(items, func(s string) (T, error) {
		var v T
		err := P(&v).UnmarshalText([]byte(s))
		return v, err
	}, format)
}

func (l *listFlag[T]) String() string {
	if l == nil || l.items == nil {
		return ""
	}
	parts := make([]string, len(*l.items))
	for i, v := range *l.items {
		parts[i] = l.format(v)
	}
	return strings.Join(parts, ",")
}

func (l *listFlag[T]) Set(s string) error {
	if !l.given {
		*l.items, l.given = nil, true
	}
	return l.add(s)
}

func (l *listFlag[T]) setEnv(s string) error {
	*l.items = nil
	return l.add(s)
}

// add appends the comma-separated values of s; empty values are skipped, so an empty
// s leaves an empty list.
func (l *listFlag[T]) add(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		v, err := l.parse(part)
		if err != nil {
			return err
		}
		*l.items = append(*l.items, v)
	}
	return nil
}

// credentialText shows a credential in full: the defaults shown by --help are public.
func credentialText(c sandbox.Credential) string { return c.APIKey + ":" + c.APISecret }

func userText(u sandbox.User) string { return u.Username + ":" + u.Password }

// faultRate is one --fault value, KIND=RATE.
type faultRate struct {
	kind sandbox.FaultKind
	rate float64
}

func parseFaultRate(s string) (faultRate, error) {
	kind, rate, ok := strings.Cut(s, "=")
	r, err := strconv.ParseFloat(rate, 64)
	if !ok || err != nil {
		return faultRate{}, fmt.Errorf("fault %q: want KIND=RATE such as 503=0.1", s)
	}
	return faultRate{sandbox.FaultKind(kind), r}, nil
}

func (f faultRate) String() string { return fmt.Sprintf("%s=%g", f.kind, f.rate) }

// forcedStatus is one --force-status value, ID=STATUS[:ERRORCODE].
type forcedStatus struct {
	businessUnit string
	status       sandbox.ForcedStatus
}

func parseForcedStatus(s string) (forcedStatus, error) {
	bad := fmt.Errorf("force-status %q: want BUSINESSUNIT=STATUS[:ERRORCODE] such as 507f191e810c19729de860ea=403:1014", s)
	id, answer, ok := strings.Cut(s, "=")
	status, code, hasCode := strings.Cut(answer, ":")
	st, err := strconv.Atoi(status)
	if !ok || id == "" || err != nil {
		return forcedStatus{}, bad
	}
	f := forcedStatus{businessUnit: id, status: sandbox.ForcedStatus{Status: st}}
	if hasCode {
		if f.status.ErrorCode, err = strconv.Atoi(code); err != nil {
			return forcedStatus{}, bad
		}
	}
	return f, nil
}

func (f forcedStatus) String() string {
	return fmt.Sprintf("%s=%d:%d", f.businessUnit, f.status.Status, f.status.ErrorCode)
}
