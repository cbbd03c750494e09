package bench

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/sandbox"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       []string
		wantName   string
		wantErr    bool
	}{
		{"program and arguments", "bench/benthos/benthos -c bench/benthos/config.yaml", []string{"bench/benthos/benthos", "-c", "bench/benthos/config.yaml"}, "benthos", false},
		{"extra spaces", "  /usr/bin/contender\t--flag  ", []string{"/usr/bin/contender", "--flag"}, "contender", false},
		{"program alone", "benthos", []string{"benthos"}, "benthos", false},
		{"blank", "   ", nil, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, name, err := ParseCommand(tc.line)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "--consumer-cmd") {
					t.Fatalf("ParseCommand(%q) error = %v, want ErrInvalidOptions naming --consumer-cmd", tc.line, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) || name != tc.wantName {
				t.Fatalf("ParseCommand(%q) = %q, %q, %v; want %q, %q", tc.line, got, name, err, tc.want, tc.wantName)
			}
		})
	}
}

// asContender makes o a valid run of a contender: one destination and activation, in a
// process.
func asContender(o *Options) {
	o.Contender, o.Command, o.Processes, o.Destinations, o.Activations = "benthos", []string{"benthos"}, 1, 1, 1
}

func TestCallsInFlight(t *testing.T) {
	for _, tc := range []struct {
		name                                          string
		concurrency, partitionConcurrency, partitions int
		want                                          int
	}{
		{"6 partitions of 32: the partitions bound", 256, 32, 6, 192},
		{"12 partitions of 32: the process bound", 256, 32, 12, 256},
		{"one partition", 256, 32, 1, 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := callsInFlight(tc.concurrency, tc.partitionConcurrency, tc.partitions); got != tc.want {
				t.Fatalf("callsInFlight = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestContenderEnvSendsAnInvitation checks that a contender's variables are enough to
// do the job: an invitation posted with them as the Benthos configuration posts it is
// accepted by the run's sandbox, and invitepipe's own processes get no token.
func TestContenderEnvSendsAnInvitation(t *testing.T) {
	o := validOptions()
	o.Destinations, o.Activations, o.Partitions, o.Contender = 1, 1, 6, "benthos"
	wl, err := newWorkload(&o, "envtest")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(wl.sandbox)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb.Handler())
	defer srv.Close()
	defer sb.Close()
	r := &runner{o: &o, wl: wl}
	r.cfg.APIURL, r.cfg.InvitationsURL = srv.URL, srv.URL
	r.cfg.Concurrency, r.cfg.PartitionConcurrency = 256, 32
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	env, err := r.processEnv(ctx)
	if err != nil {
		t.Fatalf("processEnv: %v", err)
	}
	for name := range wl.secrets {
		if env[name] != wl.secrets[name] {
			t.Errorf("%s not passed on", name)
		}
	}
	if env["BENCH_CALLS_IN_FLIGHT"] != "192" || env["BENCH_TP_SENDER_NAME"] == "" {
		t.Errorf("BENCH_CALLS_IN_FLIGHT %q, BENCH_TP_SENDER_NAME %q: want 192 and the destination's sender", env["BENCH_CALLS_IN_FLIGHT"], env["BENCH_TP_SENDER_NAME"])
	}
	body := `{"consumerEmail":"a@bench.example","consumerName":"A","referenceNumber":"envtest-1","type":"email",` +
		`"senderName":"` + env["BENCH_TP_SENDER_NAME"] + `","serviceReviewInvitation":{"templateId":"` + env["BENCH_TP_SERVICE_TEMPLATE_ID"] + `"}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/private/business-units/"+env["BENCH_TP_BUSINESS_UNIT_ID"]+"/email-invitations", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+env["BENCH_TP_ACCESS_TOKEN"])
	req.Header.Set("X-Business-User-Id", env[businessUserVar])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || sb.Stats().AcceptedInvitations != 1 {
		t.Fatalf("invitation with the contender's variables: %s, %d accepted; want 202 and 1", resp.Status, sb.Stats().AcceptedInvitations)
	}

	o.Contender = ""
	if env, err = r.processEnv(ctx); err != nil || env["BENCH_TP_ACCESS_TOKEN"] != "" {
		t.Fatalf("invitepipe's processes: token %t, err %v; want no token", env["BENCH_TP_ACCESS_TOKEN"] != "", err)
	}
}

func TestAssignedPartitions(t *testing.T) {
	// version 3 (franz-go's), two topics, user data after them
	assignment := []byte{0, 3, 0, 0, 0, 2,
		0, 4, 'r', 'o', 'w', 's', 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 5,
		0, 3, 'd', 'l', 'q', 0, 0, 0, 1, 0, 0, 0, 1,
		0, 0, 0, 2, 'u', 'd'}
	for _, tc := range []struct {
		name    string
		b       []byte
		topic   string
		want    int
		wantErr bool
	}{
		{"the topic's partitions", assignment, "rows", 3, false},
		{"another topic's", assignment, "dlq", 1, false},
		{"a topic not assigned", assignment, "other", 0, false},
		{"empty: a member without partitions", nil, "rows", 0, false},
		{"cut short", assignment[:20], "rows", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := assignedPartitions(tc.b, tc.topic)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("assignedPartitions = %d, %v; want %d, error %t", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestProcessRunsNamesTheConsumer(t *testing.T) {
	o := Options{Command: []string{"/bin/invitepipe", "consume"}}
	if got := o.processRuns(); got != "invitepipe consume" || o.consumerName() != "invitepipe" {
		t.Fatalf("invitepipe's processes: runs %q, consumer %q", got, o.consumerName())
	}
	o.Command, o.Contender = []string{"bench/benthos/benthos", "-c", "config.yaml"}, "benthos"
	if got := o.processRuns(); got != "bench/benthos/benthos -c config.yaml" || o.consumerName() != "benthos" {
		t.Fatalf("a contender's processes: runs %q, consumer %q", got, o.consumerName())
	}
}
