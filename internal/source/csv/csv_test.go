package csv

import (
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
		wantErrs []string // substrings, one per bad record, in order
		wantErr  string   // substring of Read's own error
	}{
		{
			name:     "plain rows",
			input:    "id,email\n1,a@example.com\n2,b@example.com\n",
			wantRows: []map[string]any{{"id": "1", "email": "a@example.com"}, {"id": "2", "email": "b@example.com"}},
		},
		{
			name:     "byte order mark and CRLF",
			input:    "\ufeffid,email\r\n1,a@example.com\r\n",
			wantRows: []map[string]any{{"id": "1", "email": "a@example.com"}},
		},
		{
			name:     "quoted fields with commas, quotes and line breaks",
			input:    "id,name\n1,\"Doe, \"\"J\"\"\nline\"\n2,x\n",
			wantRows: []map[string]any{{"id": "1", "name": "Doe, \"J\"\nline"}, {"id": "2", "name": "x"}},
		},
		{
			name:     "too few and too many fields are errors naming line and column",
			input:    "id,email\n1\n2,b,extra\n3,c\n",
			wantRows: []map[string]any{{"id": "3", "email": "c"}},
			wantErrs: []string{"in.csv: line 2, column 2: 1 fields, the header has 2", "in.csv: line 3, column 3: 3 fields, the header has 2"},
		},
		{
			name:     "a bare quote is an error and reading goes on",
			input:    "id,email\n1,a\"b\n2,c\n",
			wantRows: []map[string]any{{"id": "2", "email": "c"}},
			wantErrs: []string{"in.csv: line 2, column 4: bare \" in non-quoted-field"},
		},
		{
			name:     "invalid UTF-8 names the column",
			input:    "id,email\n1,\xff\n2,c\n",
			wantRows: []map[string]any{{"id": "2", "email": "c"}},
			wantErrs: []string{"in.csv: line 2, column 3 (email): not valid UTF-8"},
		},
		{
			name:    "duplicate header names",
			input:   "id,id\n1,2\n",
			wantErr: `header: columns 1 and 2 are both named "id"`,
		},
		{
			name:    "empty header name",
			input:   "id,,x\n1,2,3\n",
			wantErr: "header: column 2 has no name",
		},
		{
			name:  "empty file has no rows",
			input: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in.csv")
			if err := os.WriteFile(path, []byte(tt.input), 0o600); err != nil {
				t.Fatal(err)
			}
			rows, errs, err := sourcetest.Collect(t, New([]string{path}, nil))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Read error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			sourcetest.Check(t, rows, errs, tt.wantRows, tt.wantErrs)
		})
	}
}

func TestReadGlobInOrderAndStdin(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"b.csv": "id\n2\n", "a.csv": "id\n1\n", "c.txt": "id\n9\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	paths, err := source.Paths("*.csv", dir)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := sourcetest.Collect(t, New(paths, nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := []map[string]any{{"id": "1"}, {"id": "2"}}; !reflect.DeepEqual(rows, want) {
		t.Errorf("glob rows %v, want %v", rows, want)
	}
	if _, err := source.Paths("none-*.csv", dir); err == nil || !strings.Contains(err.Error(), "matches no file") {
		t.Errorf("Paths of a glob matching nothing: %v, want matches no file", err)
	}
	rows, _, err = sourcetest.Collect(t, New([]string{source.Stdin}, strings.NewReader("id\n7\n")))
	if err != nil || !reflect.DeepEqual(rows, []map[string]any{{"id": "7"}}) {
		t.Errorf("stdin rows %v (%v), want id 7", rows, err)
	}
	_, _, err = sourcetest.Collect(t, New([]string{filepath.Join(dir, "missing.csv")}, nil))
	if err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Errorf("missing file: %v, want an error naming it", err)
	}
}
