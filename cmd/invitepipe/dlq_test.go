package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/dlq"
	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/ledger"
	"github.com/invitepipe/invitepipe/internal/sandbox"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// dlqWorld is a rows topic, a DLQ topic seeded through dlq.Writer, an activation file
// whose business unit is unique to the test, and the ledger the consumer would use.
type dlqWorld struct {
	t           *testing.T
	brokers     []string
	rows, dead  string
	activations string
	bu          string
	ledger      *ledger.Ledger
	client      *kafka.Client
	seeded      []dlq.Record            // in the order written
	positions   map[string]dlq.Position // of each seeded record on the DLQ, by key
}

func newDLQWorld(t *testing.T) *dlqWorld {
	w := &dlqWorld{t: t, brokers: testenv.Kafka(t), bu: fmt.Sprintf("bu-dlq-%08x", rand.Uint32())}
	w.rows = testenv.UniqueName(t, "rows")
	w.dead = w.rows + ".dlq"
	testenv.CreateTopic(t, w.brokers, w.rows, 3)
	testenv.CreateTopic(t, w.brokers, w.dead, 2)
	w.client = &kafka.Client{Addr: kafka.TCP(w.brokers...), Timeout: 10 * time.Second}
	w.activations = writeTemp(t, "activations.yaml", strings.Replace(checkFile, sandbox.DefaultBusinessUnitID, w.bu, 1))
	l, err := ledger.New(testenv.RedisClient(t), ledger.Options{}) // the consumer's defaults
	if err != nil {
		t.Fatal(err)
	}
	w.ledger = l
	t.Setenv("INVITEPIPE_KAFKA_BROKERS", strings.Join(w.brokers, ","))
	t.Setenv("INVITEPIPE_KAFKA_TOPIC", w.rows)
	t.Setenv("INVITEPIPE_KAFKA_DLQ_TOPIC", w.dead)
	t.Setenv("INVITEPIPE_REDIS_URL", testenv.RedisURL(t))
	t.Setenv("INVITEPIPE_ACTIVATIONS", w.activations)
	return w
}

// seed writes records to the DLQ topic through the consumer's own writer (each key on
// its partition) and notes where each landed.
func (w *dlqWorld) seed(recs ...dlq.Record) {
	w.t.Helper()
	conn := &kafkaconn.Conn{Brokers: w.brokers, Dialer: &kafka.Dialer{Timeout: 10 * time.Second}, Transport: &kafka.Transport{}}
	dw := dlq.NewWriter(conn, w.dead)
	defer dw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, r := range recs {
		if err := dw.Write(ctx, r); err != nil {
			w.t.Fatal(err)
		}
		w.seeded = append(w.seeded, r)
	}
	w.positions = map[string]dlq.Position{}
	if err := dlq.Read(ctx, conn, w.dead, func(e dlq.Entry) error {
		w.positions[string(e.Record.Source.Key)] = dlq.Position{Partition: e.Partition, Offset: e.Offset}
		return e.Err
	}); err != nil || len(w.positions) != len(w.seeded) {
		w.t.Fatalf("read back %d of %d seeded records: %v", len(w.positions), len(w.seeded), err)
	}
}

// pos is where the record of key is on the DLQ topic, as partition:offset.
func (w *dlqWorld) pos(key string) string { return w.positions[key].String() }

// cli runs `invitepipe dlq args...` and returns its exit code and output.
func (w *dlqWorld) cli(args ...string) (int, string) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"dlq"}, args...), &out, &errOut)
	return code, out.String() + errOut.String()
}

// rowMessages reads the rows topic to its end.
func (w *dlqWorld) rowMessages() []kafka.Message {
	w.t.Helper()
	var out []kafka.Message
	for p, end := range testenv.EndOffsets(w.t, w.client, w.rows) {
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: w.brokers, Topic: w.rows, Partition: p, MaxWait: 100 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				w.t.Fatalf("rows partition %d: %v", p, err)
			}
			out = append(out, m)
			if m.Offset >= end-1 {
				break
			}
		}
		cancel()
		r.Close()
	}
	return out
}

// ends is the end offset of the rows and DLQ topics, for "nothing was written".
func (w *dlqWorld) ends() string {
	return fmt.Sprint(testenv.EndOffsets(w.t, w.client, w.rows), testenv.EndOffsets(w.t, w.client, w.dead))
}

func rowValue(id, email string) []byte {
	return fmt.Appendf(nil, `{"activation":"orders","row_id":%q,"row":{"order_id":%q,"name":"Ann","email":%q}}`, id, id, email)
}

func src(key string, value []byte, headers ...kafka.Header) kafka.Message {
	return kafka.Message{Topic: "invitepipe.rows", Partition: 1, Offset: 1000 + int64(len(key)), Key: []byte(key), Value: value, Headers: headers}
}

var at = func(h int) time.Time { return time.Date(2026, 11, 25, h, 0, 0, 0, time.UTC) }

// seedMixed seeds five records of four classes.
func (w *dlqWorld) seedMixed() {
	w.seed(
		dlq.Record{Class: dlq.InvalidRow, Reason: `mapping.consumer_email: "a***@example" is not an email address`, FailedAt: at(10),
			Source: src("orders/A-1", rowValue("A-1", "ann@example"))},
		dlq.Record{Class: dlq.UnknownActivation, Reason: `activation "returns" is not in the activation file; add it, then redrive`, FailedAt: at(11),
			Source: src("returns/R-1", []byte(`{"activation":"returns","row_id":"R-1","row":{"email":"rita@example.com"}}`))},
		dlq.Record{Class: dlq.Rejected, Reason: "400 invalid locale", Attempts: 1, FailedAt: at(12),
			Source: src("orders/A-2", rowValue("A-2", "bo@example.com"), kafka.Header{Key: "traceparent", Value: []byte("00-abc")})},
		dlq.Record{Class: dlq.Malformed, Reason: "not JSON", FailedAt: at(13), Source: src("bad/1", []byte("not json"))},
		dlq.Record{Class: dlq.InvalidRow, Reason: "mapping.reference_number: required", FailedAt: at(14),
			Source: src("orders/A-3", rowValue("", "cy@example.com"))},
	)
}

func TestDLQList(t *testing.T) {
	w := newDLQWorld(t)
	if code, out := w.cli("list"); code != 0 || !strings.Contains(out, "is empty") {
		t.Fatalf("empty topic: exit %d\n%s", code, out)
	}
	w.seedMixed()
	code, out := w.cli("list")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	// CLASS ACTIVATION DESTINATION RECORDS OLDEST NEWEST, in class order.
	want := [][]string{
		{"malformed", "-", "-", "1", "2026-11-25T13:00:00Z", "2026-11-25T13:00:00Z"},
		{"unknown_activation", "returns", "-", "1", "2026-11-25T11:00:00Z", "2026-11-25T11:00:00Z"},
		{"invalid_row", "orders", "shop", "2", "2026-11-25T10:00:00Z", "2026-11-25T14:00:00Z"},
		{"rejected", "orders", "shop", "1", "2026-11-25T12:00:00Z", "2026-11-25T12:00:00Z"},
		{"TOTAL", "4"}, // empty activation and destination columns
	}
	var got [][]string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] != "CLASS" && f[0] != "dead-letter" {
			got = append(got, f)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("list:\n%s\nwant %d lines", out, len(want))
	}
	for i := range want[:4] {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("line %d = %v, want %v", i, got[i], want[i])
		}
	}
	if total := got[4]; total[0] != "TOTAL" || total[1] != "5" || total[2] != "2026-11-25T10:00:00Z" || total[3] != "2026-11-25T14:00:00Z" {
		t.Errorf("total = %v, want 5 records from 10:00 to 14:00", total)
	}
}

func TestDLQShowMasksEmailsUnlessReveal(t *testing.T) {
	w := newDLQWorld(t)
	w.seedMixed()
	tests := []struct {
		name         string
		args         []string
		want, absent []string
		records      int
	}{
		{"masked", []string{"show", "--class", "rejected"},
			[]string{"--- DLQ " + w.pos("orders/A-2") + "\n", "key:    orders/A-2\n", `"email":"b***@example.com"`, "invitepipe-error:", "400 invalid locale", "invitepipe-source-offset:", "1010", "traceparent:", "1 of 1 matching"},
			[]string{"bo@example.com", "ann@", "returns/"}, 1},
		{"revealed", []string{"show", "--class", "rejected", "--reveal"}, []string{`"email":"bo@example.com"`}, []string{"b***@"}, 1},
		{"by activation and time", []string{"show", "--activation", "orders", "--since", "2026-11-25T11:00:00Z", "--until", "2026-11-25T14:00:00Z"},
			[]string{"--- DLQ " + w.pos("orders/A-2") + "\n", "1 of 1 matching"}, []string{"orders/A-1", "orders/A-3"}, 1},
		{"limit", []string{"show", "--limit", "2"}, []string{"2 of 5 matching"}, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := w.cli(tt.args...)
			if n := strings.Count(out, "--- DLQ "); code != 0 || n != tt.records {
				t.Fatalf("exit %d, %d records shown, want %d\n%s", code, n, tt.records, out)
			}
			for _, s := range tt.want {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(out, s) {
					t.Errorf("output has %q:\n%s", s, out)
				}
			}
		})
	}
}

func TestDLQFlagErrors(t *testing.T) {
	w := newDLQWorld(t)
	tests := []struct {
		name, want string
		args       []string
	}{
		{"no subcommand", "name a subcommand", nil},
		{"unknown subcommand", `unknown subcommand "purge"`, []string{"purge"}},
		{"redrive without a selection", "name what to redrive", []string{"redrive"}},
		{"--all with a filter", "--all selects every record", []string{"redrive", "--all", "--class", "stale"}},
		{"bad class", `class "lost" is not an error class`, []string{"show", "--class", "lost"}},
		{"bad time", `--since "yesterday" is not an RFC 3339 time`, []string{"redrive", "--since", "yesterday"}},
		{"bad offsets", `--offsets: "0-17" is not partition:offset`, []string{"redrive", "--offsets", "0-17"}},
		{"empty range", "the time range is empty", []string{"show", "--since", "2026-11-25T11:00:00Z", "--until", "2026-11-25T10:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, out := w.cli(tt.args...); code == 0 || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, want non-zero with %q:\n%s", code, tt.want, out)
			}
		})
	}
}

var redriveID = regexp.MustCompile(`redrive-\d{8}T\d{6}Z-[0-9a-f]{6}`)

func TestDLQRedrive(t *testing.T) {
	w := newDLQWorld(t)
	w.seedMixed()
	before := w.ends()
	code, out := w.cli("redrive", "--class", "invalid_row,rejected")
	if code != 0 || !strings.Contains(out, "dry run") || !strings.Contains(out, "3 record(s) to republish") || !strings.Contains(out, "key orders/A-1 (DLQ "+w.pos("orders/A-1")+")") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	if after := w.ends(); after != before {
		t.Fatalf("a dry run wrote: end offsets %s, then %s", before, after)
	}

	tests := []struct {
		name string
		args []string
		want []int // indexes into w.seeded of the records republished
	}{
		{"by class", []string{"--class", "invalid_row,rejected"}, []int{0, 2, 4}},
		{"by offsets", []string{"--offsets", w.pos("returns/R-1") + "," + w.pos("bad/1")}, []int{1, 3}},
		{"by class and time", []string{"--class", "invalid_row", "--until", "2026-11-25T12:00:00Z"}, []int{0}},
	}
	balancer := &kafka.Murmur2Balancer{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := len(w.rowMessages())
			code, out := w.cli(append([]string{"redrive", "--execute"}, tt.args...)...)
			id := redriveID.FindString(out)
			if code != 0 || id == "" || !strings.Contains(out, fmt.Sprintf("%d row(s) republished", len(tt.want))) {
				t.Fatalf("exit %d\n%s", code, out)
			}
			var got []kafka.Message
			for _, m := range w.rowMessages() {
				if header(m, dlq.HeaderRedrive) == id {
					got = append(got, m)
				}
			}
			if all := len(w.rowMessages()); len(got) != len(tt.want) || all != old+len(tt.want) {
				t.Fatalf("redrive %s: %d rows with its header, %d new rows in all; want %d", id, len(got), all-old, len(tt.want))
			}
			for _, i := range tt.want {
				rec := w.seeded[i]
				j := slices.IndexFunc(got, func(m kafka.Message) bool { return bytes.Equal(m.Key, rec.Source.Key) })
				if j < 0 {
					t.Errorf("%s was not republished", rec.Source.Key)
					continue
				}
				m := got[j]
				if !bytes.Equal(m.Value, rec.Source.Value) {
					t.Errorf("%s: value %q, want the original %q", m.Key, m.Value, rec.Source.Value)
				}
				if p := balancer.Balance(m, 0, 1, 2); m.Partition != p {
					t.Errorf("%s: on partition %d, murmur2 gives %d", m.Key, m.Partition, p)
				}
				wantHeaders := []string{dlq.HeaderRedrive}
				for _, h := range rec.Source.Headers {
					wantHeaders = append(wantHeaders, h.Key)
				}
				var keys []string
				for _, h := range m.Headers {
					keys = append(keys, h.Key)
				}
				slices.Sort(keys)
				slices.Sort(wantHeaders)
				if !slices.Equal(keys, wantHeaders) {
					t.Errorf("%s: headers %v, want %v (the original ones and the redrive's, no dead-letter header)", m.Key, keys, wantHeaders)
				}
			}
		})
	}
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func TestDLQRedriveUnknownOutcome(t *testing.T) {
	w := newDLQWorld(t)
	ctx := context.Background()
	const ref = "U-1"
	if res, err := w.ledger.Reserve(ctx, w.bu, ref, "worker-1"); err != nil || res.Status != ledger.Reserved {
		t.Fatalf("Reserve = %v, %v", res, err)
	}
	if err := w.ledger.MarkUnknown(ctx, w.bu, ref, "worker-1"); err != nil {
		t.Fatal(err)
	}
	w.seedMixed()
	w.seed(dlq.Record{Class: dlq.UnknownOutcome, Reason: "answer lost", Attempts: 1, FailedAt: at(15), Source: src("orders/U-1", rowValue(ref, "ann@example.com"))})
	before := w.ends()

	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"dry run refuses", []string{"--class", "unknown_outcome"}, 1, "MAY ALREADY EXIST"},
		{"execute refuses without the flag", []string{"--all", "--execute"}, 1, "--accept-possible-duplicates"},
		{"dry run with the flag names the mark", []string{"--offsets", w.pos("orders/U-1"), "--accept-possible-duplicates"}, 0, "ledger mark to clear: reference U-1, business unit " + w.bu},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, out := w.cli(append([]string{"redrive"}, tt.args...)...); code != tt.wantCode || !strings.Contains(out, tt.want) {
				t.Fatalf("exit %d, want %d with %q:\n%s", code, tt.wantCode, tt.want, out)
			}
			if after := w.ends(); after != before {
				t.Fatalf("wrote: end offsets %s, then %s", before, after)
			}
			if res, err := w.ledger.Reserve(ctx, w.bu, ref, "probe"); err != nil || res.Status != ledger.UnknownOutcome {
				t.Fatalf("the mark changed: Reserve = %v, %v", res.Status, err)
			}
		})
	}

	code, out := w.cli("redrive", "--class", "unknown_outcome", "--execute", "--accept-possible-duplicates")
	if code != 0 || !strings.Contains(out, "1 ledger mark(s) cleared, 1 row(s) republished") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if res, err := w.ledger.Reserve(ctx, w.bu, ref, "probe"); err != nil || res.Status != ledger.Reserved {
		t.Fatalf("after the redrive Reserve = %v, %v; want reserved (the mark cleared)", res.Status, err)
	}
	rows := w.rowMessages()
	if len(rows) != 1 || string(rows[0].Key) != "orders/U-1" || !bytes.Equal(rows[0].Value, rowValue(ref, "ann@example.com")) || !redriveID.MatchString(header(rows[0], dlq.HeaderRedrive)) {
		t.Fatalf("rows topic holds %d messages, want orders/U-1 with its value and redrive header: %v", len(rows), rows)
	}
}
