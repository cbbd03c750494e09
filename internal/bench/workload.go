package bench

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/segmentio/kafka-go"
	"go.yaml.in/yaml/v3"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/ratelimit"
	"github.com/invitepipe/invitepipe/internal/sandbox"
)

// businessUserVar names the variable of the business user id every destination sends.
const businessUserVar = "BENCH_TP_BUSINESS_USER_ID"

// workload is what a run sends: the activation file, the secrets its variables hold,
// the sandbox that accepts them, and the row messages.
type workload struct {
	file    []byte            // the activation file, YAML
	secrets map[string]string // variable -> value, for the consumer
	sandbox sandbox.Config
	rows    []planned
	valid   int // rows the sandbox must accept, once each
	bad     int // rows the dead-letter topic must hold
	dups    int // messages repeating an earlier valid row
}

// planned is one row message. Its value and emitted_at are made when it is written.
type planned struct {
	activation string
	// rowID is also the row's reference number: unique per run and row.
	rowID string
	// kind is how the row is made: valid, duplicate, malformed or invalid email.
	kind rowKind
	// of is the index of the row a duplicate repeats.
	of int
}

type rowKind uint8

const (
	validRow rowKind = iota
	duplicateRow
	malformedRow
	invalidEmailRow
)

// newWorkload plans the run's activation file and rows. run names the run: it is in
// every reference, so the ledger never confuses two runs.
func newWorkload(o *Options, run string) (*workload, error) {
	w := &workload{secrets: map[string]string{businessUserVar: sandbox.DefaultBusinessUserID}}
	w.sandbox = sandbox.DefaultConfig()
	w.sandbox.Credentials, w.sandbox.BusinessUnits = nil, nil
	w.sandbox.MintLimit = sandbox.RateWindow{} // R processes mint D tokens each at start
	w.sandbox.RateLimits = nil
	if o.Budget.Limit > 0 {
		w.sandbox.RateLimits = []sandbox.RateWindow{o.Budget}
	}
	w.sandbox.FrequencyDays = 0
	w.sandbox.Faults = sandbox.Faults{LatencyMin: o.LatencyMin, LatencyMax: o.LatencyMax, Rates: o.Faults}

	var f fileYAML
	for i := range o.Destinations {
		d := destinationYAML(i, o.Budget)
		f.Destinations = append(f.Destinations, d)
		key, secret := "bench-key-"+rand.Text(), rand.Text()
		w.secrets[d.Credentials.APIKeyEnv], w.secrets[d.Credentials.APISecretEnv] = key, secret
		w.sandbox.Credentials = append(w.sandbox.Credentials, sandbox.Credential{APIKey: key, APISecret: secret})
		w.sandbox.BusinessUnits = append(w.sandbox.BusinessUnits, sandbox.BusinessUnit{ID: d.BusinessUnitID, Domain: d.Name + ".example"})
	}
	for i, t := range o.Mix.types(o.Activations) {
		f.Activations = append(f.Activations, activationYAML(i, f.Destinations[i%o.Destinations].Name, t))
	}
	var err error
	if w.file, err = yaml.Marshal(f); err != nil {
		return nil, fmt.Errorf("bench: activation file: %w", err)
	}
	// The consumer refuses a file activation.Parse refuses: check it here, with the
	// reason, rather than in every consumer process.
	if _, err := activation.Parse(w.file); err != nil {
		return nil, fmt.Errorf("bench: the generated activation file: %w", err)
	}
	w.plan(o, run, f.Activations)
	return w, nil
}

// plan spreads duplicates and bad rows evenly through the messages, so every part of the
// run sees them: message k is bad while fewer bad rows were planned than are due by k,
// likewise for duplicates (due half a period earlier, so they never collide with the
// last bad row), and valid otherwise. Valid rows go round the activations.
func (w *workload) plan(o *Options, run string, acts []activationFile) {
	n := o.Rows
	w.rows = make([]planned, n)
	badTotal := int(math.Round(o.BadRatio * float64(n)))
	dupTotal := int(math.Round(o.DuplicateRatio * float64(n)))
	var valid []int
	for k := range w.rows {
		switch {
		case badTotal*(k+1)/n > w.bad:
			kind := malformedRow
			if w.bad%2 == 1 {
				kind = invalidEmailRow
			}
			w.rows[k] = planned{activation: acts[k%len(acts)].ID, rowID: fmt.Sprintf("%s-%d", run, k), kind: kind}
			w.bad++
		case len(valid) > 0 && (dupTotal*(k+1)+n/2)/n > w.dups:
			of := valid[(w.dups*7919)%len(valid)] // an earlier row, not always the last
			w.rows[k] = w.rows[of]
			w.rows[k].kind, w.rows[k].of = duplicateRow, of
			w.dups++
		default:
			a := acts[len(valid)%len(acts)].ID
			w.rows[k] = planned{activation: a, rowID: fmt.Sprintf("%s-%d", run, k), kind: validRow}
			valid = append(valid, k)
		}
	}
	w.valid = len(valid)
}

// message is row k's Kafka message: duplicates repeat the value of the row they copy,
// made earlier, so values holds every message made so far by index.
func (w *workload) message(k int, emitted time.Time, values [][]byte) (kafka.Message, error) {
	p := w.rows[k]
	key := []byte(p.activation + "/" + p.rowID)
	var value []byte
	switch p.kind {
	case duplicateRow:
		value = values[p.of]
	case malformedRow:
		value = []byte(`{"activation": "` + p.activation + `", "row_id": `) // cut short: not JSON
	default:
		email := fmt.Sprintf("customer-%d@bench.example", k)
		if p.kind == invalidEmailRow {
			email = fmt.Sprintf("customer-%d-at-bench.example", k)
		}
		m := rowMessage{Activation: p.activation, RowID: p.rowID, EmittedAt: emitted.UTC().Format(time.RFC3339Nano), Row: map[string]any{
			"name": fmt.Sprintf("Customer %d", k), "email": email, "ref": p.rowID,
			"locale": "en-GB", "sku": fmt.Sprintf("SKU-%d", k%97),
		}}
		var err error
		if value, err = json.Marshal(m); err != nil {
			return kafka.Message{}, fmt.Errorf("bench: row %d: %w", k, err)
		}
	}
	values[k] = value
	return kafka.Message{Key: key, Value: value}, nil
}

// rowMessage is a row message of schemas/row.v1.schema.json.
type rowMessage struct {
	Activation string         `json:"activation"`
	RowID      string         `json:"row_id"`
	EmittedAt  string         `json:"emitted_at"`
	Row        map[string]any `json:"row"`
}

// The activation file's YAML, as much of it as the bench writes.
type (
	fileYAML struct {
		Destinations []destinationFile `yaml:"destinations"`
		Activations  []activationFile  `yaml:"activations"`
	}
	destinationFile struct {
		Name           string         `yaml:"name"`
		BusinessUnitID string         `yaml:"business_unit_id"`
		Credentials    credentialFile `yaml:"credentials"`
		RateLimit      rateLimitFile  `yaml:"rate_limit"`
		Defaults       defaultsFile   `yaml:"defaults"`
	}
	credentialFile struct {
		APIKeyEnv         string `yaml:"api_key_env"`
		APISecretEnv      string `yaml:"api_secret_env"`
		BusinessUserIDEnv string `yaml:"business_user_id_env"`
	}
	rateLimitFile struct {
		Per5Min int          `yaml:"per_5min"`
		PerHour int          `yaml:"per_hour"`
		Windows []windowFile `yaml:"windows,omitempty"`
	}
	windowFile struct {
		Calls int    `yaml:"calls"`
		Per   string `yaml:"per"`
	}
	defaultsFile struct {
		ServiceTemplateID string `yaml:"service_template_id"`
		ProductTemplateID string `yaml:"product_template_id"`
		SenderName        string `yaml:"sender_name"`
	}
	activationFile struct {
		ID             string            `yaml:"id"`
		Destination    string            `yaml:"destination"`
		InvitationType string            `yaml:"invitation_type"`
		Product        *productFile      `yaml:"product,omitempty"`
		Mapping        map[string]string `yaml:"mapping"`
	}
	productFile struct {
		SKUPerRow bool `yaml:"sku_per_row"`
	}
)

// destinationYAML is destination i: its own business unit and API key, and the budget
// (none: Trustpilot's default windows lifted to unlimited).
func destinationYAML(i int, budget sandbox.RateWindow) destinationFile {
	d := destinationFile{
		Name:           fmt.Sprintf("bench-%d", i),
		BusinessUnitID: fmt.Sprintf("be0c%020x", i+1),
		Credentials: credentialFile{
			APIKeyEnv:         fmt.Sprintf("BENCH_TP_API_KEY_%d", i),
			APISecretEnv:      fmt.Sprintf("BENCH_TP_API_SECRET_%d", i),
			BusinessUserIDEnv: businessUserVar,
		},
		RateLimit: rateLimitFile{Per5Min: ratelimit.Unlimited, PerHour: ratelimit.Unlimited},
		Defaults: defaultsFile{
			ServiceTemplateID: fmt.Sprintf("5e7c%020x", i+1),
			ProductTemplateID: fmt.Sprintf("9d0c%020x", i+1),
			SenderName:        "Bench",
		},
	}
	if budget.Limit > 0 {
		d.RateLimit.Windows = []windowFile{{Calls: budget.Limit, Per: budget.Window.String()}}
	}
	return d
}

// activationYAML is activation i of type t sending to destination dest.
func activationYAML(i int, dest string, t activation.InvitationType) activationFile {
	a := activationFile{
		ID: fmt.Sprintf("bench-%d", i), Destination: dest, InvitationType: string(t),
		Mapping: map[string]string{"consumer_name": "name", "consumer_email": "email", "reference_number": "ref", "locale": "locale"},
	}
	if t.WantsProduct() {
		a.Product = &productFile{SKUPerRow: true}
		a.Mapping["product_sku"] = "sku"
	}
	return a
}
