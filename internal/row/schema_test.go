package row

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/invitepipe/invitepipe/schemas"
)

var (
	compileOnce sync.Once
	compiled    *jsonschema.Schema
	compileErr  error
)

// rowSchema is schemas.Row compiled with formats asserted: the contract means
// emitted_at to be a date-time, not just any string.
func rowSchema(tb testing.TB) *jsonschema.Schema {
	tb.Helper()
	compileOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemas.Row))
		if err != nil {
			compileErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if compileErr = c.AddResource("row.v1.schema.json", doc); compileErr == nil {
			compiled, compileErr = c.Compile("row.v1.schema.json")
		}
	})
	if compileErr != nil {
		tb.Fatalf("compile row schema: %v", compileErr)
	}
	return compiled
}

// schemaAccepts reports whether the compiled schema accepts value as a JSON document.
func schemaAccepts(tb testing.TB, value []byte) bool {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	return err == nil && rowSchema(tb).Validate(doc) == nil
}

// edgeCases are messages on both sides of every rule of the schema; valid is what the
// schema says.
var edgeCases = []struct {
	name  string
	value string
	valid bool
}{
	{"minimal", `{"activation":"a","row_id":"1","row":{}}`, true},
	{"whitespace around and inside", " \n{ \"activation\" : \"a\" ,\t\"row_id\":\"1\", \"row\" : { } }\r\n", true},
	{"activation of 100 characters", `{"activation":"` + strings.Repeat("a", 100) + `","row_id":"1","row":{}}`, true},
	{"activation of 101 characters", `{"activation":"` + strings.Repeat("a", 101) + `","row_id":"1","row":{}}`, false},
	{"activation digits and dashes", `{"activation":"0-a--9-","row_id":"1","row":{}}`, true},
	{"activation written with escapes", `{"activation":"\u006f\u0072ders","row_id":"1","row":{}}`, true},
	{"activation empty", `{"activation":"","row_id":"1","row":{}}`, false},
	{"activation starts with a dash", `{"activation":"-a","row_id":"1","row":{}}`, false},
	{"activation uppercase", `{"activation":"Orders","row_id":"1","row":{}}`, false},
	{"activation underscore", `{"activation":"orders_eu","row_id":"1","row":{}}`, false},
	{"activation trailing newline", `{"activation":"orders\n","row_id":"1","row":{}}`, false},
	{"activation non-ASCII", `{"activation":"ordérs","row_id":"1","row":{}}`, false},
	{"activation invalid UTF-8", "{\"activation\":\"a\xff\",\"row_id\":\"1\",\"row\":{}}", false},
	{"activation number", `{"activation":1,"row_id":"1","row":{}}`, false},
	{"activation null", `{"activation":null,"row_id":"1","row":{}}`, false},
	{"activation missing", `{"row_id":"1","row":{}}`, false},
	{"activation key in another case is unknown", `{"Activation":"a","row_id":"1","row":{}}`, false},
	{"row_id blank is not empty", `{"activation":"a","row_id":" ","row":{}}`, true},
	{"row_id NUL character", `{"activation":"a","row_id":"\u0000","row":{}}`, true},
	{"row_id empty", `{"activation":"a","row_id":"","row":{}}`, false},
	{"row_id number", `{"activation":"a","row_id":1,"row":{}}`, false},
	{"row_id missing", `{"activation":"a","row":{}}`, false},
	{"priority backfill", `{"activation":"a","row_id":"1","priority":"backfill","row":{}}`, true},
	{"priority unknown", `{"activation":"a","row_id":"1","priority":"urgent","row":{}}`, false},
	{"priority not a string", `{"activation":"a","row_id":"1","priority":1,"row":{}}`, false},
	{"emitted_at UTC", `{"activation":"a","row_id":"1","emitted_at":"2026-11-25T10:00:00Z","row":{}}`, true},
	{"emitted_at offset and fraction", `{"activation":"a","row_id":"1","emitted_at":"2026-11-25T10:00:00.123456789123-03:30","row":{}}`, true},
	{"emitted_at lowercase t and z", `{"activation":"a","row_id":"1","emitted_at":"2026-11-25t10:00:00z","row":{}}`, true},
	{"emitted_at leap second", `{"activation":"a","row_id":"1","emitted_at":"2016-12-31T23:59:60Z","row":{}}`, true},
	{"emitted_at leap second in an offset", `{"activation":"a","row_id":"1","emitted_at":"2017-01-01T00:59:60+01:00","row":{}}`, true},
	{"emitted_at second 60 not at 23:59 UTC", `{"activation":"a","row_id":"1","emitted_at":"2026-11-25T10:00:60Z","row":{}}`, false},
	{"emitted_at date only", `{"activation":"a","row_id":"1","emitted_at":"2026-11-25","row":{}}`, false},
	{"emitted_at space separator", `{"activation":"a","row_id":"1","emitted_at":"2026-11-25 10:00:00Z","row":{}}`, false},
	{"emitted_at no zone", `{"activation":"a","row_id":"1","emitted_at":"2026-11-25T10:00:00","row":{}}`, false},
	{"emitted_at offset without colon", `{"activation":"a","row_id":"1","emitted_at":"2026-11-25T10:00:00+0100","row":{}}`, false},
	{"emitted_at empty fraction", `{"activation":"a","row_id":"1","emitted_at":"2026-11-25T10:00:00.Z","row":{}}`, false},
	{"emitted_at February 30", `{"activation":"a","row_id":"1","emitted_at":"2026-02-30T10:00:00Z","row":{}}`, false},
	{"emitted_at hour 24", `{"activation":"a","row_id":"1","emitted_at":"2026-11-25T24:00:00Z","row":{}}`, false},
	{"emitted_at offset hour 24", `{"activation":"a","row_id":"1","emitted_at":"2026-11-25T10:00:00+24:00","row":{}}`, false},
	{"emitted_at null", `{"activation":"a","row_id":"1","emitted_at":null,"row":{}}`, false},
	{"emitted_at number", `{"activation":"a","row_id":"1","emitted_at":1764064800,"row":{}}`, false},
	{"row every allowed kind", `{"activation":"a","row_id":"1","row":{"s":"x","n":-1.5e-3,"t":true,"f":false,"z":null,"l":["a",""],"e":[]}}`, true},
	{"row huge number", `{"activation":"a","row_id":"1","row":{"n":1e400}}`, true},
	{"row invalid UTF-8 in a value", "{\"activation\":\"a\",\"row_id\":\"1\",\"row\":{\"s\":\"\xff\"}}", true},
	{"row empty column name", `{"activation":"a","row_id":"1","row":{"":"x"}}`, true},
	{"row null", `{"activation":"a","row_id":"1","row":null}`, false},
	{"row array", `{"activation":"a","row_id":"1","row":[]}`, false},
	{"row string", `{"activation":"a","row_id":"1","row":"x"}`, false},
	{"row missing", `{"activation":"a","row_id":"1"}`, false},
	{"row object value", `{"activation":"a","row_id":"1","row":{"address":{"city":"Oslo"}}}`, false},
	{"row array of numbers", `{"activation":"a","row_id":"1","row":{"l":["a",1]}}`, false},
	{"row array with null", `{"activation":"a","row_id":"1","row":{"l":[null]}}`, false},
	{"row nested array", `{"activation":"a","row_id":"1","row":{"l":[["a"]]}}`, false},
	{"unknown fields of any type", `{"activation":"a","row_id":"1","row":{},"x":{"y":[1,{}]},"schema_version":2,"n":null}`, true},
	{"duplicate field: the last one counts", `{"activation":1,"activation":"a","row_id":"1","row":{}}`, true},
	{"duplicate field: a bad last one", `{"activation":"a","activation":1,"row_id":"1","row":{}}`, false},
	{"duplicate column: the last one counts", `{"activation":"a","row_id":"1","row":{"c":{},"c":1}}`, true},
	{"duplicate column: a good array after a bad one", `{"activation":"a","row_id":"1","row":{"c":[1,"x",[2,{"y":"]"}]],"c":["ok"],"d":"y"}}`, true},
	{"duplicate column: a bad last one", `{"activation":"a","row_id":"1","row":{"c":1,"c":{}}}`, false},
	{"empty input", ``, false},
	{"not JSON", `activation=a`, false},
	{"JSON null", `null`, false},
	{"JSON array", `[{"activation":"a","row_id":"1","row":{}}]`, false},
	{"JSON string", `"x"`, false},
	{"trailing data", `{"activation":"a","row_id":"1","row":{}} x`, false},
	{"two objects", `{"activation":"a","row_id":"1","row":{}}{}`, false},
	{"truncated", `{"activation":"a","row_id":"1","row":{`, false},
}

// examples are the golden example messages with what the schema says of each.
func examples(tb testing.TB) map[string]bool {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "..", "schemas", "examples", "row.*.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no example rows: %v", err)
	}
	out := make(map[string]bool, len(paths))
	for _, p := range paths {
		out[p] = !strings.Contains(filepath.Base(p), "malformed")
	}
	return out
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestDecodeAgreesWithSchema holds Decode to the compiled schema over the golden
// examples and the edge cases: both accept, or both refuse.
func TestDecodeAgreesWithSchema(t *testing.T) {
	type tc struct {
		name  string
		value []byte
		valid bool
	}
	var cases []tc
	for path, valid := range examples(t) {
		cases = append(cases, tc{filepath.Base(path), readFile(t, path), valid})
	}
	for _, e := range edgeCases {
		cases = append(cases, tc{e.name, []byte(e.value), e.valid})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := schemaAccepts(t, c.value); got != c.valid {
				t.Fatalf("schema accepts = %v, the case says %v", got, c.valid)
			}
			_, err := Decode(c.value)
			if (err == nil) != c.valid {
				t.Fatalf("Decode error = %v, schema accepts = %v", err, c.valid)
			}
			var me *MalformedError
			if err != nil && !errors.As(err, &me) {
				t.Fatalf("Decode error %T %v, want a *MalformedError", err, err)
			}
		})
	}
}

// TestDecodeIsStricterThanTheValidatorOnDateTimes pins the one documented difference:
// the validator reads hh:mm:ss and offsets with strconv.Atoi, so it lets signed fields
// through that RFC 3339 does not allow.
func TestDecodeIsStricterThanTheValidatorOnDateTimes(t *testing.T) {
	for _, at := range []string{"2026-11-25T+1:00:00Z", "2026-11-25T10:00:00++1:00"} {
		value := []byte(`{"activation":"a","row_id":"1","emitted_at":"` + at + `","row":{}}`)
		_, err := Decode(value)
		var me *MalformedError
		if !errors.As(err, &me) || me.Path != "emitted_at" {
			t.Errorf("Decode(emitted_at %s) = %v, want malformed emitted_at", at, err)
		}
		if !schemaAccepts(t, value) {
			t.Logf("the validator now refuses emitted_at %s too; this test can go", at)
		}
	}
}

// FuzzDecode: Decode never panics, accepts only what the schema accepts, and refuses
// what the schema accepts only for an emitted_at outside RFC 3339.
func FuzzDecode(f *testing.F) {
	for path := range examples(f) {
		f.Add(readFile(f, path))
	}
	for _, e := range edgeCases {
		f.Add([]byte(e.value))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		m, err := Decode(value)
		accepts := schemaAccepts(t, value)
		if err == nil {
			if !accepts {
				t.Fatalf("Decode accepted what the schema refuses: %q", value)
			}
			if want := genericRow(t, value); !reflect.DeepEqual(m.Row, want) {
				t.Fatalf("Decode row = %#v, encoding/json reads %#v", m.Row, want)
			}
			for _, v := range m.Row {
				checkDecimal(t, v)
			}
			return
		}
		var me *MalformedError
		if !errors.As(err, &me) {
			t.Fatalf("Decode error %T %v, want a *MalformedError", err, err)
		}
		if accepts && me.Path != "emitted_at" {
			t.Fatalf("Decode refused what the schema accepts: %v: %q", err, value)
		}
	})
}

// genericRow is the row of an accepted message as encoding/json reads it.
func genericRow(t *testing.T, value []byte) Row {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	var top map[string]json.RawMessage
	if err := dec.Decode(&top); err != nil {
		t.Fatal(err)
	}
	var cols map[string]any
	dec = json.NewDecoder(bytes.NewReader(top["row"]))
	dec.UseNumber()
	if err := dec.Decode(&cols); err != nil {
		t.Fatal(err)
	}
	r := make(Row, len(cols))
	for name, x := range cols {
		switch x := x.(type) {
		case nil:
			r[name] = Value{}
		case string:
			r[name] = Value{Kind: String, Text: x}
		case json.Number:
			r[name] = Value{Kind: Number, Text: string(x)}
		case bool:
			r[name] = Value{Kind: Bool, Bool: x}
		case []any:
			l := Value{Kind: List, Strings: make([]string, len(x))}
			for i, s := range x {
				l.Strings[i] = s.(string)
			}
			r[name] = l
		}
	}
	return r
}

// checkDecimal holds a Number's decimal text to its literal: the same exact value,
// written plainly.
func checkDecimal(t *testing.T, v Value) {
	t.Helper()
	text, ok := v.Decimal()
	if v.Kind != Number {
		if ok {
			t.Fatalf("Decimal of %s = %q, true", v.Kind, text)
		}
		return
	}
	if !ok {
		return // an exponent beyond MaxExponent; TestDecimal covers the bound
	}
	var lit, got big.Rat
	if _, okLit := lit.SetString(v.Text); !okLit {
		t.Fatalf("literal %q is not a number", v.Text)
	}
	if _, okGot := got.SetString(text); !okGot || got.Cmp(&lit) != 0 {
		t.Fatalf("Decimal(%q) = %q, a different value", v.Text, text)
	}
	if strings.ContainsAny(text, "eE+") || strings.Contains(text, ".") && strings.HasSuffix(text, "0") || text == "-0" {
		t.Fatalf("Decimal(%q) = %q, not plain decimal text", v.Text, text)
	}
}
