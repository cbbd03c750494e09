package postgresql

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/invitepipe/invitepipe/internal/source/sourcetest"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

func TestRead(t *testing.T) {
	dsn := testenv.PostgresURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	table := strings.ReplaceAll(strings.ToLower(testenv.UniqueName(t, "src")), "-", "_")
	if _, err := conn.Exec(ctx, `CREATE TABLE `+table+` (id bigint, price numeric(10,2), big numeric, ratio double precision,
		ok boolean, name text, at timestamptz, day date, tags text[], u uuid, nothing text)`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP TABLE "+table) })
	if _, err := conn.Exec(ctx, `INSERT INTO `+table+` VALUES
		(9007199254740993, 12.5, 123456789012345678901234567890.000000001, 0.1, true, 'Ann', '2024-05-01 10:00:00.5+02', '2024-05-01', '{a,b}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', NULL),
		(2, NULL, 'NaN', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
		(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{x,NULL}', NULL, NULL),
		(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		dsn      string
		query    string
		wantRows []map[string]any
		wantErrs []string
		wantErr  string
	}{
		{
			name:  "values in the row contract, NULL absent, bad values counted",
			dsn:   dsn,
			query: "SELECT * FROM " + table + " ORDER BY id DESC",
			wantRows: []map[string]any{
				{"id": json.Number("9007199254740993"), "price": json.Number("12.50"), "big": json.Number("123456789012345678901234567890.000000001"),
					"ratio": json.Number("0.1"), "ok": true, "name": "Ann", "at": "2024-05-01T08:00:00.5Z", "day": "2024-05-01",
					"tags": []string{"a", "b"}, "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
				{"id": json.Number("4")},
			},
			wantErrs: []string{`query row 3, column "tags": item 1 is NULL`, `query row 4, column "big": NaN has no JSON number`},
		},
		{
			name:    "a query error",
			dsn:     dsn,
			query:   "SELECT nope FROM " + table,
			wantErr: `postgresql: query: ERROR: column "nope" does not exist`,
		},
		{
			name:    "an unsupported type names the column and the cast",
			dsn:     dsn,
			query:   "SELECT id, '\\x00'::bytea AS payload FROM " + table,
			wantErr: `column "payload": type bytea has no row value; cast it in the query (e.g. payload::text)`,
		},
		{
			name:    "an unreachable database names the variable, not the string",
			dsn:     "postgres://invitepipe:secret-pw@127.0.0.1:1/invitepipe?connect_timeout=5",
			query:   "SELECT 1",
			wantErr: "postgresql: connect (ORDERS_DSN):",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, errs, err := sourcetest.Collect(t, New(tt.dsn, "ORDERS_DSN", tt.query))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Read error %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret-pw") {
					t.Fatalf("Read error %q reveals the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if !reflect.DeepEqual(rows, tt.wantRows) {
				t.Errorf("rows\n%v\nwant\n%v", rows, tt.wantRows)
			}
			if len(errs) != len(tt.wantErrs) {
				t.Fatalf("record errors %q, want %q", errs, tt.wantErrs)
			}
			for i := range errs {
				if !strings.Contains(errs[i], tt.wantErrs[i]) {
					t.Errorf("record error %d: %q, want it to contain %q", i, errs[i], tt.wantErrs[i])
				}
			}
		})
	}
}
