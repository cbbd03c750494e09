package producer

import (
	"strings"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/activation"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		name    string
		source  map[string]any
		mapped  string // mapping.reference_number
		want    Spec
		wantErr []string
	}{
		{
			name:   "csv with the default key and mode",
			source: map[string]any{"type": "csv", "path": "orders.csv"},
			mapped: "order_id",
			want:   Spec{Type: "csv", Path: "orders.csv", PrimaryKey: "order_id", Mode: "diff"},
		},
		{
			name:   "postgresql with its own key",
			source: map[string]any{"type": "postgresql", "query": "SELECT 1", "dsn_env": "DB", "primary_key": "id", "mode": "diff"},
			mapped: "order_id",
			want:   Spec{Type: "postgresql", Query: "SELECT 1", DSNEnv: "DB", PrimaryKey: "id", Mode: "diff"},
		},
		{
			name:   "cursor mode over a timestamp column",
			source: map[string]any{"type": "postgresql", "query": "SELECT 1", "dsn_env": "DB", "mode": "cursor", "cursor_column": "created_at", "cursor_lookback": "10m"},
			mapped: "order_id",
			want: Spec{Type: "postgresql", Query: "SELECT 1", DSNEnv: "DB", PrimaryKey: "order_id", Mode: "cursor",
				Cursor: Cursor{Column: "created_at", Kind: CursorTime, Lookback: 10 * time.Minute}},
		},
		{
			name:   "cursor mode over an integer column, the look-back a YAML integer",
			source: map[string]any{"type": "csv", "path": "x.csv", "mode": "cursor", "cursor_column": "id", "cursor_lookback": 1000},
			mapped: "order_id",
			want:   Spec{Type: "csv", Path: "x.csv", PrimaryKey: "order_id", Mode: "cursor", Cursor: Cursor{Column: "id", Kind: CursorInt, LookbackCount: 1000}},
		},
		{
			name:   "a zero look-back: a duration or a count",
			source: map[string]any{"type": "ndjson", "path": "-", "mode": "cursor", "cursor_column": "at", "cursor_lookback": "0s"},
			mapped: "order_id",
			want:   Spec{Type: "ndjson", Path: "-", PrimaryKey: "order_id", Mode: "cursor", Cursor: Cursor{Column: "at", Kind: CursorTime}},
		},
		{
			name:   "cursor mode needs its column and look-back",
			source: map[string]any{"type": "ndjson", "path": "-", "mode": "cursor"},
			mapped: "order_id",
			wantErr: []string{
				"activations.orders.source.cursor_column: required in cursor mode",
				"activations.orders.source.cursor_lookback: required in cursor mode",
			},
		},
		{
			name:    "a bad look-back",
			source:  map[string]any{"type": "ndjson", "path": "-", "mode": "cursor", "cursor_column": "at", "cursor_lookback": "-5m"},
			mapped:  "order_id",
			wantErr: []string{"activations.orders.source.cursor_lookback: -5m0s is negative"},
		},
		{
			name:    "a look-back that is neither",
			source:  map[string]any{"type": "ndjson", "path": "-", "mode": "cursor", "cursor_column": "at", "cursor_lookback": "ten minutes"},
			mapped:  "order_id",
			wantErr: []string{`activations.orders.source.cursor_lookback: "ten minutes" is neither a duration`},
		},
		{
			name:    "cursor keys in diff mode",
			source:  map[string]any{"type": "ndjson", "path": "-", "cursor_column": "at"},
			mapped:  "order_id",
			wantErr: []string{"activations.orders.source.cursor_column: is for mode: cursor only"},
		},
		{
			name:   "every problem at once",
			source: map[string]any{"type": "postgresql", "path": "x.csv", "colour": "red"},
			wantErr: []string{
				"activations.orders.source.colour: unknown key",
				"activations.orders.source.query: required for a postgresql source",
				"activations.orders.source.dsn_env: required",
				"activations.orders.source.path: is for a csv or ndjson source only",
				"activations.orders.source.primary_key: required when mapping.reference_number is not set",
			},
		},
		{
			name:    "a file source needs a path",
			source:  map[string]any{"type": "csv"},
			mapped:  "id",
			wantErr: []string{"activations.orders.source.path: required for a csv source"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &activation.Activation{ID: "orders", Source: tt.source, Mapping: activation.Mapping{ReferenceNumber: tt.mapped}}
			got, err := ParseSpec(a)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("ParseSpec = %+v, want errors %q", got, tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSpec = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestOpenNeedsTheDSNVariable(t *testing.T) {
	s := Spec{Type: "postgresql", Query: "SELECT 1", DSNEnv: "ORDERS_DSN", PrimaryKey: "id", Mode: "diff"}
	_, err := s.Open(".", func(string) (string, bool) { return "", false }, nil)
	if err == nil || !strings.Contains(err.Error(), "ORDERS_DSN (source.dsn_env) is not set") {
		t.Fatalf("Open without the variable: %v", err)
	}
}
