package bench

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/invitepipe/invitepipe/internal/trustpilot"
)

// invitepipeName is the consumer measured when Options.Contender is empty.
const invitepipeName = "invitepipe"

// consumerName is what the run measures: invitepipe's consumer or the contender.
func (o *Options) consumerName() string {
	if o.Contender != "" {
		return o.Contender
	}
	return invitepipeName
}

// callsInFlight is how many Trustpilot calls invitepipe's consumer may have in flight
// with cfg on partitions partitions: INVITEPIPE_CONCURRENCY per process, and
// INVITEPIPE_PARTITION_CONCURRENCY per partition.
func callsInFlight(concurrency, partitionConcurrency, partitions int) int {
	return min(concurrency, partitionConcurrency*partitions)
}

// processEnv is the variables the consumer processes get beyond the INVITEPIPE_*
// settings: the activation file's secrets and, for a contender, what it needs to do
// invitepipe's job without reading the activation file (destination 0's business unit,
// service template and sender name, an access token minted with its credentials, the
// business user id and the calls in flight invitepipe allows).
func (r *runner) processEnv(ctx context.Context) (map[string]string, error) {
	env := maps.Clone(r.wl.secrets)
	if r.o.Contender == "" {
		return env, nil
	}
	d := destinationYAML(0, r.o.Budget)
	tokens, err := trustpilot.NewTokenSource(trustpilot.Config{
		APIBaseURL: r.cfg.APIURL, InvitationsBaseURL: r.cfg.InvitationsURL,
		APIKey: env[d.Credentials.APIKeyEnv], APISecret: env[d.Credentials.APISecretEnv],
		Grant: trustpilot.GrantClientCredentials, BusinessUserID: env[businessUserVar],
	})
	if err != nil {
		return nil, fmt.Errorf("bench: contender's token: %w", err)
	}
	token, err := tokens.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("bench: contender's token: %w", err)
	}
	maps.Copy(env, map[string]string{
		"BENCH_TP_ACCESS_TOKEN":        token,
		"BENCH_TP_BUSINESS_UNIT_ID":    d.BusinessUnitID,
		"BENCH_TP_SERVICE_TEMPLATE_ID": d.Defaults.ServiceTemplateID,
		"BENCH_TP_SENDER_NAME":         d.Defaults.SenderName,
		"BENCH_CALLS_IN_FLIGHT":        strconv.Itoa(callsInFlight(r.cfg.Concurrency, r.cfg.PartitionConcurrency, r.o.Partitions)),
	})
	return env, nil
}

// processRuns says what a consumer process runs, for the report: `invitepipe consume`,
// or the contender's command line.
func (o *Options) processRuns() string {
	if o.Contender != "" {
		return strings.Join(o.Command, " ")
	}
	return invitepipeName + " consume"
}
