package ndjson

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/invitepipe/invitepipe/internal/source"
	"github.com/invitepipe/invitepipe/internal/source/sourcetest"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		wantRows []map[string]any
		wantErrs []string
	}{
		{
			name:  "values of the row contract, numbers exact",
			input: `{"id":12345678901234567890,"price":1.50,"ok":true,"gone":null,"tags":["a","b"],"name":"Ann"}` + "\n",
			wantRows: []map[string]any{{"id": json.Number("12345678901234567890"), "price": json.Number("1.50"), "ok": true,
				"gone": nil, "tags": []string{"a", "b"}, "name": "Ann"}},
		},
		{
			name:     "byte order mark, CRLF, blank lines and no final newline",
			input:    "\ufeff{\"id\":\"1\"}\r\n\n   \n{\"id\":\"2\"}",
			wantRows: []map[string]any{{"id": "1"}, {"id": "2"}},
		},
		{
			name:     "bad lines are errors naming line and column and reading goes on",
			input:    "{\"id\":\"1\"}\n{\"id\": oops}\n[1,2]\n{\"id\":{\"x\":1}}\n{\"tags\":[\"a\",1]}\n{\"id\":\"1\"} {}\n{\"id\":\"6\"}\n",
			wantRows: []map[string]any{{"id": "1"}, {"id": "6"}},
			wantErrs: []string{
				"in.ndjson: line 2, column 8: not JSON",
				"in.ndjson: line 3, column 1: an array, not a JSON object",
				`in.ndjson: line 4, column "id": an object`,
				`in.ndjson: line 5, column "tags": item 1 is a number`,
				"in.ndjson: line 6, column 12: more than one JSON value",
			},
		},
		{
			name:     "invalid UTF-8",
			input:    "{\"id\":\"\xff\"}\n",
			wantErrs: []string{"in.ndjson: line 1, column 8: not valid UTF-8"},
		},
		{
			name:     "a line longer than the limit",
			input:    `{"id":"` + strings.Repeat("x", MaxLine) + "\"}\n{\"id\":\"2\"}\n",
			wantRows: []map[string]any{{"id": "2"}},
			wantErrs: []string{"in.ndjson: line 1, column 1048577: longer than 1048576 bytes"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in.ndjson")
			if err := os.WriteFile(path, []byte(tt.input), 0o600); err != nil {
				t.Fatal(err)
			}
			rows, errs, err := sourcetest.Collect(t, New([]string{path}, nil))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			sourcetest.Check(t, rows, errs, tt.wantRows, tt.wantErrs)
		})
	}
}

func TestReadStdinAndMissingFile(t *testing.T) {
	rows, _, err := sourcetest.Collect(t, New([]string{source.Stdin}, strings.NewReader(`{"id":7}`+"\n")))
	if err != nil || !reflect.DeepEqual(rows, []map[string]any{{"id": json.Number("7")}}) {
		t.Errorf("stdin rows %v (%v), want id 7", rows, err)
	}
	_, _, err = sourcetest.Collect(t, New([]string{filepath.Join(t.TempDir(), "missing.ndjson")}, nil))
	if err == nil || !strings.Contains(err.Error(), "missing.ndjson") {
		t.Errorf("missing file: %v, want an error naming it", err)
	}
}
