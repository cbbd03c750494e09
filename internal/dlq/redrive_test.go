package dlq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/ledger"
	"github.com/invitepipe/invitepipe/internal/mapping"
)

func TestRedrivenKeepsOriginalAndReplacesAnEarlierRedrive(t *testing.T) {
	src := kafka.Message{Key: []byte("k"), Value: []byte("v"), Headers: []kafka.Header{
		{Key: "traceparent", Value: []byte("00-abc")}, {Key: HeaderRedrive, Value: []byte("redrive-old")},
	}}
	rec, err := Parse(Record{Class: Rejected, Reason: "r", FailedAt: time.Now(), Source: src}.Message())
	if err != nil {
		t.Fatal(err)
	}
	m := rec.Redriven("redrive-new")
	if string(m.Key) != "k" || string(m.Value) != "v" || len(m.Headers) != 2 ||
		m.Headers[0].Key != "traceparent" || m.Headers[1].Key != HeaderRedrive || string(m.Headers[1].Value) != "redrive-new" {
		t.Errorf("Redriven = %+v", m)
	}
	if id := NewRedriveID(time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC)); !strings.HasPrefix(id, "redrive-20261130T170000Z-") || len(id) != len("redrive-20261130T170000Z-")+6 {
		t.Errorf("NewRedriveID = %q", id)
	}
}

func TestFilter(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 11, 25, h, 0, 0, 0, time.UTC) }
	e := Entry{Partition: 1, Offset: 9, Record: Record{Class: InvalidRow, FailedAt: at(10), Source: kafka.Message{Value: []byte(`{"activation":"orders"}`)}}}
	notRecord := Entry{Partition: 1, Offset: 10, Err: errors.New("no class")}
	tests := []struct {
		name          string
		f             Filter
		want, wantBad bool // selects e, selects notRecord
	}{
		{"empty selects all", Filter{}, true, true},
		{"class", Filter{Classes: []Class{Rejected, InvalidRow}}, true, false},
		{"other class", Filter{Classes: []Class{Rejected}}, false, false},
		{"activation", Filter{Activations: []string{"orders"}}, true, false},
		{"other activation", Filter{Activations: []string{"returns"}}, false, false},
		{"since is inclusive", Filter{Since: at(10)}, true, false},
		{"until is exclusive", Filter{Until: at(10)}, false, false},
		{"range", Filter{Since: at(9), Until: at(11)}, true, false},
		{"positions", Filter{Positions: []Position{{1, 9}, {1, 10}}}, true, true},
		{"positions and class", Filter{Positions: []Position{{1, 9}, {1, 10}}, Classes: []Class{InvalidRow}}, true, false},
		{"other position", Filter{Positions: []Position{{0, 9}}}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Match(e); got != tt.want {
				t.Errorf("Match(record) = %v, want %v", got, tt.want)
			}
			if got := tt.f.Match(notRecord); got != tt.wantBad {
				t.Errorf("Match(not a record) = %v, want %v", got, tt.wantBad)
			}
		})
	}
}

func TestParsePositions(t *testing.T) {
	got, err := ParsePositions("0:17, 2:40")
	if err != nil || len(got) != 2 || got[0] != (Position{0, 17}) || got[1] != (Position{2, 40}) {
		t.Fatalf("ParsePositions = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "0-17", "a:1", "0:-1", "0:17,"} {
		if _, err := ParsePositions(bad); err == nil || !strings.Contains(err.Error(), "is not partition:offset") {
			t.Errorf("ParsePositions(%q) error = %v", bad, err)
		}
	}
}

func TestSummary(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 11, 25, h, 0, 0, 0, time.UTC) }
	rec := func(c Class, act string, h int) Entry {
		return Entry{Record: Record{Class: c, FailedAt: at(h), Source: kafka.Message{Value: []byte(`{"activation":"` + act + `"}`)}}}
	}
	s := Summary{Destination: func(a string) (string, bool) { return "shop", a == "orders" }}
	for _, e := range []Entry{rec(Stale, "orders", 12), rec(InvalidRow, "orders", 11), rec(InvalidRow, "orders", 9), rec(InvalidRow, "returns", 10), {Err: errors.New("x")}} {
		s.Add(e)
	}
	got := s.Groups()
	want := []Group{
		{Class: InvalidRow, Activation: "orders", Destination: "shop", Records: 2, Oldest: at(9), Newest: at(11)},
		{Class: InvalidRow, Activation: "returns", Destination: Unknown, Records: 1, Oldest: at(10), Newest: at(10)},
		{Class: Stale, Activation: "orders", Destination: "shop", Records: 1, Oldest: at(12), Newest: at(12)},
	}
	if len(got) != len(want) {
		t.Fatalf("Groups = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("group %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if s.Total.Records != 4 || !s.Total.Oldest.Equal(at(9)) || !s.Total.Newest.Equal(at(12)) || s.NotRecords != 1 {
		t.Errorf("Total %+v, NotRecords %d", s.Total, s.NotRecords)
	}
}

const routeFile = `
destinations:
  - name: shop
    business_unit_id: bu-shop
    credentials: { api_key_env: K, api_secret_env: S, business_user_id_env: U }
activations:
  - id: orders
    destination: shop
    invitation_type: service
    mapping: { consumer_name: name, consumer_email: email, reference_number: order_id }
`

// fakeMarks answers TakeOver with a status per reference and records the calls.
type fakeMarks struct {
	status map[string]ledger.Status
	calls  []string
}

func (f *fakeMarks) TakeOver(_ context.Context, bu, ref, owner string) (ledger.Result, error) {
	f.calls = append(f.calls, "takeover "+bu+" "+ref+" "+owner)
	return ledger.Result{Status: f.status[ref], Wait: time.Minute}, nil
}

func (f *fakeMarks) Forget(_ context.Context, bu, ref, owner string) error {
	f.calls = append(f.calls, "forget "+bu+" "+ref+" "+owner)
	return nil
}

type fakeRows struct {
	msgs   []kafka.Message
	writes int
}

func (f *fakeRows) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	f.msgs = append(f.msgs, msgs...)
	f.writes++
	return nil
}

// entries is a Source that reads the same entries each time, and counts its reads.
type entries struct {
	list  []Entry
	reads int
}

func (es *entries) Read(_ context.Context, fn func(Entry) error) error {
	es.reads++
	for _, e := range es.list {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func TestRedriveResolveAndExecute(t *testing.T) {
	file, err := activation.Parse([]byte(routeFile))
	if err != nil {
		t.Fatal(err)
	}
	router := mapping.NewRouter(file)
	row := func(ref string) []byte {
		return []byte(`{"activation":"orders","row_id":"` + ref + `","row":{"order_id":"` + ref + `","name":"N","email":"n@example.com"}}`)
	}
	entry := func(c Class, value []byte) Entry {
		return Entry{Record: Record{Class: c, Source: kafka.Message{Key: []byte("orders/x"), Value: value}}}
	}
	many := func(n int, e Entry) []Entry {
		out := make([]Entry, n)
		for i := range out {
			out[i] = e
			out[i].Offset = int64(i)
		}
		return out
	}
	tests := []struct {
		name          string
		entries       []Entry
		filter        Filter
		accept        bool
		status        map[string]ledger.Status
		wantErr       string // of Resolve or Execute
		wantCalls     []string
		wantWrites    int
		wantResult    string // Cleared and Confirmed, when set
		wantRowWrites int    // calls of WriteMessages, when set
	}{
		{name: "no unknown outcome", entries: []Entry{entry(Rejected, row("A")), entry(Malformed, []byte("x"))}, wantWrites: 2},
		{name: "only what the filter selects", entries: []Entry{entry(Rejected, row("A")), entry(Malformed, []byte("x")), entry(UnknownOutcome, row("U"))},
			filter: Filter{Classes: []Class{Malformed}}, wantWrites: 1},
		{name: "written in batches", entries: many(1201, entry(Rejected, row("A"))), wantWrites: 1201, wantRowWrites: 3},
		{name: "problems are counted past the ones listed", entries: many(maxProblems+5, Entry{Err: errors.New("no class")}), wantErr: "... and 5 more"},
		{name: "unknown outcome refused", entries: []Entry{entry(Rejected, row("A")), entry(UnknownOutcome, row("U"))}, wantErr: "MAY ALREADY EXIST"},
		{name: "not a record refused", entries: []Entry{{Err: errors.New("no class")}}, accept: true, wantErr: "not a dead-letter record"},
		{name: "unknown outcome whose row does not map", entries: []Entry{entry(UnknownOutcome, []byte(`{"activation":"gone","row_id":"1","row":{}}`))}, accept: true, wantErr: "its ledger mark cannot be found"},
		{name: "marks cleared once per reference, then rows written",
			entries: []Entry{entry(UnknownOutcome, row("U")), entry(UnknownOutcome, row("U")), entry(UnknownOutcome, row("V"))}, accept: true,
			status:    map[string]ledger.Status{"U": ledger.Reserved, "V": ledger.Duplicate},
			wantCalls: []string{"takeover bu-shop U id", "forget bu-shop U id", "takeover bu-shop V id"}, wantWrites: 3,
			wantResult: "cleared 1, confirmed [{bu-shop V}]"},
		{name: "a reference being sent stops before any write",
			entries: []Entry{entry(UnknownOutcome, row("U"))}, accept: true, status: map[string]ledger.Status{"U": ledger.Busy},
			wantErr: "is being sent by a consumer right now", wantCalls: []string{"takeover bu-shop U id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			rd := &Redrive{ID: "id", Filter: tt.filter}
			src := &entries{list: tt.entries}
			marks, rows := &fakeMarks{status: tt.status}, &fakeRows{}
			if err := rd.Plan(ctx, src, router); err != nil {
				t.Fatal(err)
			}
			var res Result
			err := rd.Check(tt.accept)
			if err == nil {
				res, err = rd.Execute(ctx, src, marks, rows)
				if err == nil && (res.Written != rd.Selected || src.reads != 2) {
					t.Errorf("%d rows written of the %d planned, in %d reads of the source; want all, in 2", res.Written, rd.Selected, src.reads)
				}
			}
			if tt.wantRowWrites != 0 && rows.writes != tt.wantRowWrites {
				t.Errorf("%d writes of rows; want %d", rows.writes, tt.wantRowWrites)
			}
			if got := fmt.Sprintf("cleared %d, confirmed %v", res.Cleared, res.Confirmed); tt.wantResult != "" && got != tt.wantResult {
				t.Errorf("result %s, want %s", got, tt.wantResult)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
			if strings.Join(marks.calls, "; ") != strings.Join(tt.wantCalls, "; ") || len(rows.msgs) != tt.wantWrites {
				t.Errorf("ledger calls %v, %d rows written; want %v, %d", marks.calls, len(rows.msgs), tt.wantCalls, tt.wantWrites)
			}
		})
	}
	rd := &Redrive{ID: "id"}
	src := &entries{list: []Entry{entry(UnknownOutcome, row("U")), entry(Rejected, row("A")), entry(UnknownOutcome, row("U")), entry(Rejected, row("B")),
		entry(Rejected, row("C")), entry(Rejected, row("D")), entry(Rejected, row("E"))}}
	if err := rd.Plan(context.Background(), src, router); err != nil {
		t.Fatal(err)
	}
	if err := rd.Check(false); !errors.Is(err, ErrPossibleDuplicates) {
		t.Errorf("Check without acceptance = %v, want ErrPossibleDuplicates", err)
	}
	if rd.Selected != 7 || rd.Unknown != 2 || rd.ByClass[Rejected] != 5 || len(rd.Sample) != SampleSize || len(rd.Marks) != 1 {
		t.Errorf("plan: %d selected, %d unknown, by class %v, %d in the sample, marks %v; want 7, 2, 5 rejected, %d, one mark",
			rd.Selected, rd.Unknown, rd.ByClass, len(rd.Sample), rd.Marks, SampleSize)
	}
}
