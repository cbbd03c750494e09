package main

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/logging"
	"github.com/invitepipe/invitepipe/internal/sandbox"
)

// runSandbox serves the Trustpilot API simulator until ctx is done.
func runSandbox(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parseSandboxArgs(args, stdout)
	if err != nil {
		return err
	}
	log, err := logging.New(stdout, cfg.LogLevel)
	if err != nil {
		return err
	}
	sc := cfg.Config()
	srv, err := sandbox.New(sc, sandbox.WithLogger(log))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", sc.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", sc.Addr, err)
	}
	writeSandboxSession(stdout, sc, "http://"+ln.Addr().String())
	return srv.Serve(ctx, ln)
}

// sandboxUsage is the usage line and description --help shows.
const sandboxUsage = `sandbox [flags]

A local Trustpilot API simulator: the token, business-unit and invitation paths of both
Trustpilot hosts on one address, plus /_sandbox/{invitations,stats,reset,faults} and an
invitation history page at /. Each flag overrides the variable its description names,
whose value is the flag's default. List flags take comma-separated values and may be
repeated; given on the command line, they replace the variable's list.`

// parseSandboxArgs reads the INVITEPIPE_SANDBOX_* variables, then the flags, which win,
// and validates the result. On --help it writes the usage to out and returns
// flag.ErrHelp.
func parseSandboxArgs(args []string, out io.Writer) (config.Sandbox, error) {
	var cfg config.Sandbox
	fs := newFlagSet("sandbox", sandboxUsage, &cfg, out)
	if err := config.Read(&cfg); err != nil {
		return cfg, err
	}
	if err := bindFlags(fs, &cfg); err != nil {
		return cfg, err
	}
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
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
