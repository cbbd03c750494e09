package row

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecodeGoldenExamples(t *testing.T) {
	tests := []struct {
		file string
		want Message
	}{
		{
			file: "row.valid.json",
			want: Message{
				Activation: "orders-service",
				RowID:      "A-1001",
				EmittedAt:  time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
				Row: Row{
					"order_id": {Kind: String, Text: "A-1001"},
					"name":     {Kind: String, Text: "Ann Lee"},
					"email":    {Kind: String, Text: "ann@example.com"},
					"lang":     {Kind: String, Text: "en-US"},
					"sku":      {Kind: String, Text: "SKU-1"},
					"tags":     {Kind: List, Strings: []string{"vip", "eu"}},
					"amount":   {Kind: Number, Text: "1234000123"},
					"gift":     {Kind: Bool, Bool: false},
					"note":     {Kind: Null},
				},
			},
		},
		{
			file: "row.backfill.json",
			want: Message{
				Activation: "orders-service",
				RowID:      "A-0007",
				EmittedAt:  time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
				Backfill:   true,
				Row: Row{
					"order_id": {Kind: String, Text: "A-0007"},
					"name":     {Kind: String, Text: "Dee Park"},
					"email":    {Kind: String, Text: "dee@example.com"},
				},
			},
		},
		{
			file: "row.forward-compatible.json",
			want: Message{
				Activation: "orders-service",
				RowID:      "A-1003",
				Row: Row{
					"order_id": {Kind: String, Text: "A-1003"},
					"name":     {Kind: String, Text: "Cy"},
					"email":    {Kind: String, Text: "cy@example.com"},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Decode(readFile(t, filepath.Join("..", "..", "schemas", "examples", tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestDecodeValues(t *testing.T) {
	tests := []struct {
		name string
		json string
		want Value
	}{
		{"string kept as sent", `" Ann  Lee "`, Value{Kind: String, Text: " Ann  Lee "}},
		{"string with escapes", `"a\"b\\c\u00e9\n\ud83d\ude00"`, Value{Kind: String, Text: "a\"b\\cé\n😀"}},
		{"invalid UTF-8 reads as U+FFFD, as encoding/json reads it", "\"a\xffb\"", Value{Kind: String, Text: "a\uFFFDb"}},
		{"integer literal", `1234000123`, Value{Kind: Number, Text: "1234000123"}},
		{"exponent literal kept", `1.234000123e+09`, Value{Kind: Number, Text: "1.234000123e+09"}},
		{"true", `true`, Value{Kind: Bool, Bool: true}},
		{"false", `false`, Value{Kind: Bool}},
		{"null", `null`, Value{}},
		{"array of strings", `["vip", " eu ", ""]`, Value{Kind: List, Strings: []string{"vip", " eu ", ""}}},
		{"empty array", `[]`, Value{Kind: List, Strings: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode([]byte(`{"activation":"a","row_id":"1","row":{"c":` + tt.json + `}}`))
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Row["c"]; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("value = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeAbsentColumnReadsAsNull(t *testing.T) {
	m, err := Decode([]byte(`{"activation":"a","row_id":"1","row":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if v := m.Row["missing"]; m.Row == nil || !reflect.DeepEqual(v, Value{}) || v.Kind != Null {
		t.Errorf("row %#v: an absent column should read as Null", m.Row)
	}
}

func TestDecodeSaysWhatIsWrongAndWhere(t *testing.T) {
	const head = `{"activation":"a","row_id":"1",`
	tests := []struct {
		name  string
		value string
		want  string
	}{
		{"golden: object in the row", `{"activation":"orders-service","row_id":"A-1004","row":{"order_id":"A-1004","address":{"city":"Oslo"}}}`,
			"row.address: objects are not allowed (use a string, number, boolean, null or an array of strings)"},
		{"golden: missing row_id", `{"activation":"orders-service","row":{}}`, "row_id: required"},
		{"empty value (a tombstone)", ``, "not valid JSON: unexpected end of JSON input (at byte 0)"},
		{"not JSON", `{"activation":"a",}`, "not valid JSON: invalid character '}' looking for beginning of object key string (at byte 19)"},
		{"an array", ` [1]`, "must be a JSON object, not an array"},
		{"null", `null`, "must be a JSON object, not null"},
		{"missing activation", `{"row_id":"1","row":{}}`, "activation: required"},
		{"activation of the wrong type", `{"activation":7,"row_id":"1","row":{}}`, "activation: must be a string, not a number"},
		{"activation an object", `{"activation":{"id":"a"},"row_id":"1","row":{}}`, "activation: must be a string, not an object"},
		{"activation with uppercase", `{"activation":"Orders","row_id":"1","row":{}}`,
			"activation: must be lowercase letters, digits and '-', not starting with '-' (e.g. orders-service)"},
		{"activation empty", `{"activation":"","row_id":"1","row":{}}`, "activation: must not be empty"},
		{"activation too long", `{"activation":"` + strings.Repeat("a", 101) + `","row_id":"1","row":{}}`, "activation: longer than 100 characters"},
		{"row_id empty", `{"activation":"a","row_id":"","row":{}}`, "row_id: must not be empty"},
		{"row_id of the wrong type", `{"activation":"a","row_id":null,"row":{}}`, "row_id: must be a string, not null"},
		{"emitted_at not a date-time", head + `"emitted_at":"yesterday","row":{}}`, "emitted_at: not an RFC 3339 date-time such as 2026-11-25T10:00:00Z"},
		{"emitted_at of the wrong type", head + `"emitted_at":1,"row":{}}`, "emitted_at: must be a string, not a number"},
		{"priority unknown", head + `"priority":"urgent","row":{}}`, `priority: "urgent" is not a priority; the only one is "backfill" (absent: a fresh row)`},
		{"priority of the wrong type", head + `"priority":true,"row":{}}`, "priority: must be a string, not a boolean"},
		{"missing row", `{"activation":"a","row_id":"1"}`, "row: required"},
		{"row of the wrong type", head + `"row":["a"]}`, "row: must be an object of columns, not an array"},
		{"array item of the wrong type", head + `"row":{"tags":["a",true]}}`, "row.tags[1]: arrays may hold only strings, not a boolean"},
		{"nested array", head + `"row":{"tags":[["a"]]}}`, "row.tags[0]: arrays may hold only strings, not an array"},
		{"column name that needs quoting", head + `"row":{"first name":{}}}`,
			`row["first name"]: objects are not allowed (use a string, number, boolean, null or an array of strings)`},
		{"long column name shortened", head + `"row":{"` + strings.Repeat("x", 70) + `":[1]}}`,
			`row["` + strings.Repeat("x", 64) + `..."][0]: arrays may hold only strings, not a number`},
		{"bad item amid others, then more columns", head + `"row":{"l":["a",1,"b",["]"]],"m":"ok","k":{}}}`,
			"row.k: objects are not allowed (use a string, number, boolean, null or an array of strings)"},
		{"several bad columns: the first by name", head + `"row":{"b":{},"c":[1],"a":[null]}}`, "row.a[0]: arrays may hold only strings, not null"},
		{"too big", head + `"row":{},"pad":"` + strings.Repeat("x", MaxMessageBytes) + `"}`,
			"the message is 1048625 bytes, over the limit of 1048576 (1 MiB)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.value))
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("Decode error = %v, want a *MalformedError", err)
			}
			if got := strings.TrimPrefix(err.Error(), "malformed row message: "); got != tt.want {
				t.Errorf("error = %q\nwant      %q", got, tt.want)
			}
			if me.Class() != "malformed" {
				t.Errorf("class = %q", me.Class())
			}
		})
	}
}

func TestDecodeErrorsNeverQuoteValues(t *testing.T) {
	const email = "ann.lee@example.com"
	for _, value := range []string{
		`{"activation":"` + email + `","row_id":"1","row":{}}`,
		`{"activation":"a","row_id":"1","emitted_at":"` + email + `","row":{}}`,
		`{"activation":"a","row_id":"1","row":{"email":{"address":"` + email + `"}}}`,
		`{"activation":"a","row_id":"1","row":{"emails":["` + email + `",1]}}`,
		`{"activation":"a","row_id":"1","row":"` + email + `"}`,
		`{"activation":"a","row_id":"1","row":{"email":"` + email + `"},}`,
	} {
		_, err := Decode([]byte(value))
		if err == nil || strings.Contains(err.Error(), "ann") {
			t.Errorf("Decode(%s) error = %v: want an error that does not quote the value", value, err)
		}
	}
}

func TestDecodeSizeLimitIsInclusive(t *testing.T) {
	head := `{"activation":"a","row_id":"1","row":{},"pad":"`
	fit := head + strings.Repeat("x", MaxMessageBytes-len(head)-2) + `"}`
	if len(fit) != MaxMessageBytes {
		t.Fatalf("test message is %d bytes", len(fit))
	}
	if _, err := Decode([]byte(fit)); err != nil {
		t.Errorf("a message of exactly MaxMessageBytes: %v", err)
	}
	if _, err := Decode([]byte(fit + " ")); err == nil {
		t.Error("a message one byte over MaxMessageBytes was accepted")
	}
}

func TestDecimal(t *testing.T) {
	tests := []struct {
		literal string
		want    string
		ok      bool
	}{
		{"1234000123", "1234000123", true},
		{"1.234000123e+09", "1234000123", true},
		{"1234000123.0", "1234000123", true},
		{"123.0", "123", true},
		{"123.000E0", "123", true},
		{"1.5", "1.5", true},
		{"1.50", "1.5", true},
		{"15e-1", "1.5", true},
		{"1e-3", "0.001", true},
		{"0.0012300", "0.00123", true},
		{"-12.5E+1", "-125", true},
		{"-0", "0", true},
		{"-0.0e5", "0", true},
		{"0", "0", true},
		{"0e99999999999999999999", "0", true},
		{"10", "10", true},
		{"100e-2", "1", true},
		{"12345678901234567890123456789", "12345678901234567890123456789", true},
		{"1e100", "1" + strings.Repeat("0", 100), true},
		{"1E-100", "0." + strings.Repeat("0", 99) + "1", true},
		{"1e101", "", false},
		{"1e-101", "", false},
		{"1e999999999", "", false},
		{"0.5e-0000000000000000000001", "0.05", true},
	}
	for _, tt := range tests {
		t.Run(tt.literal, func(t *testing.T) {
			got, ok := Value{Kind: Number, Text: tt.literal}.Decimal()
			if got != tt.want || ok != tt.ok {
				t.Errorf("Decimal(%s) = %q, %v; want %q, %v", tt.literal, got, ok, tt.want, tt.ok)
			}
		})
	}
	for _, text := range []string{"1e", "1e+", "1ex", "e", ".", "-", ""} {
		Value{Kind: Number, Text: text}.Decimal() // not literals Decode makes: no panic is all
	}
	for _, v := range []Value{{Kind: String, Text: "1"}, {Kind: Bool}, {}, {Kind: List, Strings: []string{"1"}}} {
		if got, ok := v.Decimal(); ok {
			t.Errorf("Decimal of %s = %q, true; want no text", v.Kind, got)
		}
	}
}

func TestKindNames(t *testing.T) {
	want := map[Kind]string{Null: "null", String: "a string", Number: "a number", Bool: "a boolean", List: "an array of strings", 9: "Kind(9)"}
	for k, name := range want {
		if k.String() != name {
			t.Errorf("Kind %d = %q, want %q", k, k.String(), name)
		}
	}
}

func TestParseDateTime(t *testing.T) {
	plus2 := time.FixedZone("", 2*3600)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-11-25T10:00:00Z", time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), true},
		{"2026-11-25t10:00:00z", time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), true},
		{"2026-11-25T10:00:00.5+02:00", time.Date(2026, 11, 25, 10, 0, 0, 500_000_000, plus2), true},
		{"2026-11-25T10:00:00.1234567891-00:00", time.Date(2026, 11, 25, 10, 0, 0, 123_456_789, time.UTC), true},
		{"2016-12-31T23:59:60Z", time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"2017-01-01T01:59:60+02:00", time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"2016-12-31T23:59:60+01:00", time.Time{}, false},
		{"2024-02-29T00:00:00Z", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), true},
		{"2026-02-29T00:00:00Z", time.Time{}, false},
		{"2026-13-01T00:00:00Z", time.Time{}, false},
		{"+026-11-25T10:00:00Z", time.Time{}, false},
		{"2026-11-25T1:00:00Z", time.Time{}, false},
		{"2026-11-25T10:60:00Z", time.Time{}, false},
		{"2026-11-25T10:00:00+02:60", time.Time{}, false},
		{"2026-11-25T10:00:00+2:00", time.Time{}, false},
		{"2026-11-25T10:00:00Z ", time.Time{}, false},
		{"2026-11-25T10:00:00.", time.Time{}, false},
		{"2026-11-25T10:00", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseDateTime(tt.in)
			if ok != tt.ok || !got.Equal(tt.want) {
				t.Errorf("parseDateTime = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	value := readFile(b, filepath.Join("..", "..", "schemas", "examples", "row.valid.json"))
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(value); err != nil {
			b.Fatal(err)
		}
	}
}
