package mapping

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/row"
)

var examplesDir = filepath.Join("..", "..", "schemas", "examples")

// exampleMappers are the Mappers of schemas/examples/activations.yaml, by activation id.
func exampleMappers(tb testing.TB) map[string]*Mapper {
	tb.Helper()
	f, err := activation.Load(filepath.Join(examplesDir, "activations.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	out := make(map[string]*Mapper, len(f.Activations))
	for i := range f.Activations {
		a := &f.Activations[i]
		d, ok := f.Destination(a.Destination)
		if !ok {
			tb.Fatalf("activation %s: no destination %s", a.ID, a.Destination)
		}
		out[a.ID] = New(a, d)
	}
	return out
}

// exampleRow is the row of schemas/examples/row.valid.json.
func exampleRow(tb testing.TB) row.Row {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(examplesDir, "row.valid.json"))
	if err != nil {
		tb.Fatal(err)
	}
	m, err := row.Decode(b)
	if err != nil {
		tb.Fatal(err)
	}
	return m.Row
}

// TestMapGoldenExamples maps the example row with every example activation.
func TestMapGoldenExamples(t *testing.T) {
	golden := map[string]string{
		// type and sender name from the destination's defaults, tags from the row.
		"orders-service": `{"consumerEmail":"ann@example.com","consumerName":"Ann Lee","referenceNumber":"A-1001","locale":"en-US","senderName":"Shop","type":"email",` +
			`"serviceReviewInvitation":{"templateId":"5f2b0c7e1a2b3c4d5e6f7a8b","redirectUri":"https://shop.example/thanks","tags":["vip","eu"]}}`,
		// the SKU from the row; no service part.
		"orders-product": `{"consumerEmail":"ann@example.com","consumerName":"Ann Lee","referenceNumber":"A-1001","senderName":"Shop","type":"email",` +
			`"productReviewInvitation":{"templateId":"5f2b0c7e1a2b3c4d5e6f7a8c","redirectUri":"https://shop.example/thanks/product","productSkus":["SKU-1"]}}`,
		// fixed tags replace the row's; fixed SKUs; the absent store column is omitted.
		"orders-both": `{"consumerEmail":"ann@example.com","consumerName":"Ann Lee","referenceNumber":"A-1001","senderEmail":"reviews@shop.example","senderName":"Shop","replyTo":"care@shop.example","type":"email",` +
			`"serviceReviewInvitation":{"templateId":"5f2b0c7e1a2b3c4d5e6f7a8b","redirectUri":"https://shop.example/thanks","tags":["checkout","eu"]},` +
			`"productReviewInvitation":{"productSkus":["SKU-1","SKU-2"]}}`,
	}
	mappers := exampleMappers(t)
	if len(mappers) != len(golden) {
		t.Fatalf("the example file has %d activations, the test knows %d", len(mappers), len(golden))
	}
	r := exampleRow(t)
	for id, want := range golden {
		t.Run(id, func(t *testing.T) {
			m, ok := mappers[id]
			if !ok {
				t.Fatalf("no activation %s in the example file", id)
			}
			inv, err := m.Map(r)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(inv)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Errorf("invitation\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func BenchmarkMap(b *testing.B) {
	mappers := exampleMappers(b)
	r := exampleRow(b)
	for _, id := range []string{"orders-service", "orders-both"} {
		b.Run(id, func(b *testing.B) {
			m := mappers[id]
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Map(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
