package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/dlq"
)

// workload is a stream of row messages and what invitepipe must make of it.
type workload struct {
	records []record
	// want maps each valid reference number to the exact invitation body.
	want map[string]string
	// bad maps the key of each bad record to its value and the class it must be
	// dead-lettered with.
	bad map[string]badRecord
}

type badRecord struct {
	value string
	class dlq.Class
}

// newWorkload builds n valid rows spread over the three activations, every dupEvery-th
// published twice, and a bad record of each kind every badEvery rows.
func newWorkload(n, dupEvery, badEvery int, seed uint64) workload {
	rng := rand.New(rand.NewPCG(seed, 7))
	w := workload{want: map[string]string{}, bad: map[string]badRecord{}}
	var dups []record
	for i := range n {
		ref := fmt.Sprintf("R-%06d", i)
		var act, row, body string
		switch i % 3 {
		case 0:
			act = "svc"
			row = fmt.Sprintf(`{"order_id":%q,"name":" Name %d ","email":"user%d@example.com","lang":"en_us","tags":"a, b,,"}`, ref, i, i)
			body = fmt.Sprintf(`{"consumerEmail":"user%d@example.com","consumerName":"Name %d","referenceNumber":%q,"locale":"en-US","senderName":"Shop","type":"email","serviceReviewInvitation":{"templateId":"tmpl-service","redirectUri":"https://shop.example/thanks","tags":["a","b"]}}`, i, i, ref)
		case 1:
			act = "prod"
			row = fmt.Sprintf(`{"order_id":%q,"name":"Name %d","email":"user%d@example.com","sku":%d}`, ref, i, i, 1000+i)
			body = fmt.Sprintf(`{"consumerEmail":"user%d@example.com","consumerName":"Name %d","referenceNumber":%q,"senderName":"Shop","type":"email","productReviewInvitation":{"templateId":"tmpl-product","productSkus":["%d"]}}`, i, i, ref, 1000+i)
		case 2:
			act = "both"
			row = fmt.Sprintf(`{"order_id":%q,"name":"Name %d","email":"user%d@example.com","store":"store-%d","tags":"ignored"}`, ref, i, i, i)
			body = fmt.Sprintf(`{"consumerEmail":"user%d@example.com","consumerName":"Name %d","referenceNumber":%q,"senderName":"Shop","replyTo":"care@shop.example","locationId":"store-%d","type":"email","serviceReviewInvitation":{"templateId":"tmpl-service","tags":["fixed"]},"productReviewInvitation":{"productSkus":["SKU-A","SKU-B"]}}`, i, i, ref, i)
		}
		rowID := fmt.Sprintf("row-%d", i)
		rec := record{key: act + "/" + rowID, value: fmt.Sprintf(`{"activation":%q,"row_id":%q,"emitted_at":"2026-11-25T10:00:00Z","row":%s}`, act, rowID, row)}
		w.records = append(w.records, rec)
		w.want[ref] = body
		if dupEvery > 0 && i%dupEvery == 0 {
			dups = append(dups, rec)
		}
		if badEvery > 0 && i%badEvery == 0 {
			for _, b := range badKinds(i) {
				w.records = append(w.records, b.record)
				w.bad[b.key] = badRecord{value: b.value, class: b.class}
			}
		}
	}
	// Duplicates arrive later and in another order, as a replay or an upstream retry would.
	rng.Shuffle(len(dups), func(i, j int) { dups[i], dups[j] = dups[j], dups[i] })
	w.records = append(w.records, dups...)
	return w
}

type badKind struct {
	record
	class dlq.Class
}

// badKinds returns one record of each kind of bad input, keyed uniquely by i.
func badKinds(i int) []badKind {
	mk := func(kind, value string, class dlq.Class) badKind {
		return badKind{record: record{key: fmt.Sprintf("bad/%s-%d", kind, i), value: value}, class: class}
	}
	return []badKind{
		mk("not-json", `{"activation":"svc",`, dlq.Malformed),
		mk("object-value", fmt.Sprintf(`{"activation":"svc","row_id":"b%d","row":{"order_id":"B-%d","name":"N","email":"n@example.com","address":{"city":"Oslo"}}}`, i, i), dlq.Malformed),
		mk("unknown-activation", fmt.Sprintf(`{"activation":"returns","row_id":"b%d","row":{"order_id":"B-%d"}}`, i, i), dlq.UnknownActivation),
		mk("bad-email", fmt.Sprintf(`{"activation":"svc","row_id":"b%d","row":{"order_id":"B-%d","name":"N","email":"n@"}}`, i, i), dlq.InvalidRow),
		mk("bad-reference", fmt.Sprintf(`{"activation":"svc","row_id":"b%d","row":{"order_id":"B#%d","name":"N","email":"n@example.com"}}`, i, i), dlq.InvalidRow),
		mk("no-name", fmt.Sprintf(`{"activation":"prod","row_id":"b%d","row":{"order_id":"B-%d","name":"  ","email":"n@example.com","sku":"S"}}`, i, i), dlq.InvalidRow),
		mk("bad-locale", fmt.Sprintf(`{"activation":"svc","row_id":"b%d","row":{"order_id":"B-%d","name":"N","email":"n@example.com","lang":"english"}}`, i, i), dlq.InvalidRow),
	}
}

// checkSentExactlyOnce asserts that the sandbox accepted exactly one invitation per
// wanted reference, with exactly the wanted body, and nothing else. Unknown-outcome
// references (dead-lettered as such) may be absent, never doubled.
func checkSentExactlyOnce(t *testing.T, s *stack, w workload, unknown map[string]bool) {
	t.Helper()
	sent := s.sent()
	missing, doubled, wrong := 0, 0, 0
	for ref, body := range w.want {
		got := sent[ref]
		switch {
		case len(got) == 0 && unknown[ref]:
		case len(got) == 0:
			if missing++; missing <= 5 {
				t.Errorf("reference %s was never sent", ref)
			}
		case len(got) > 1:
			if doubled++; doubled <= 5 {
				t.Errorf("reference %s was sent %d times", ref, len(got))
			}
		case !sameJSON(got[0].Body, body):
			if wrong++; wrong <= 5 {
				t.Errorf("reference %s: body\n%s\nwant\n%s", ref, got[0].Body, body)
			}
		}
	}
	for ref := range sent {
		if _, ok := w.want[ref]; !ok {
			t.Errorf("the sandbox got reference %s, which no valid row has", ref)
		}
	}
	if missing+doubled+wrong > 0 {
		t.Fatalf("%d missing, %d sent more than once, %d with a wrong body (of %d)", missing, doubled, wrong, len(w.want))
	}
	if st := s.sandbox.Stats(); st.DuplicateReferences != 0 {
		t.Fatalf("sandbox saw %d references more than once", st.DuplicateReferences)
	}
}

func sameJSON(a []byte, b string) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// checkDeadLetters asserts that the DLQ holds every bad record once, with its class and
// its original bytes, plus the given number of unknown_outcome records, and returns the
// references of the latter.
func checkDeadLetters(t *testing.T, s *stack, w workload, unknownOutcomes int) map[string]bool {
	t.Helper()
	recs := s.deadLetters(len(w.bad)+unknownOutcomes, 60*time.Second)
	unknown := map[string]bool{}
	seen := map[string]bool{}
	for _, r := range recs {
		key := string(r.Source.Key)
		if r.Class == dlq.UnknownOutcome {
			var m struct {
				Row struct {
					OrderID string `json:"order_id"`
				} `json:"row"`
			}
			if err := json.Unmarshal(r.Source.Value, &m); err != nil {
				t.Errorf("unknown_outcome record %s: %v", key, err)
			}
			unknown[m.Row.OrderID] = true
			continue
		}
		b, ok := w.bad[key]
		switch {
		case !ok:
			t.Errorf("unexpected dead letter %s (%s: %s)", key, r.Class, r.Reason)
		case seen[key]:
			t.Errorf("dead letter %s written twice", key)
		case r.Class != b.class:
			t.Errorf("dead letter %s has class %s, want %s (%s)", key, r.Class, b.class, r.Reason)
		case string(r.Source.Value) != b.value:
			t.Errorf("dead letter %s changed the value: %q, want %q", key, r.Source.Value, b.value)
		case r.Reason == "" || r.Source.Topic != s.topic:
			t.Errorf("dead letter %s lacks its reason or source: %+v", key, r)
		}
		seen[key] = true
	}
	if len(unknown) != unknownOutcomes {
		t.Errorf("%d distinct unknown_outcome references, want %d", len(unknown), unknownOutcomes)
	}
	return unknown
}
