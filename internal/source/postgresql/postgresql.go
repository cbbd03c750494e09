package postgresql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/invitepipe/invitepipe/internal/source"
)

// connectTimeout bounds connecting to the database.
const connectTimeout = 15 * time.Second

// Source runs one query.
type Source struct {
	dsn    string
	dsnEnv string
	query  string
	cursor string // the cursor column; empty outside cursor mode
}

// New returns a Source that runs query over the connection string dsn, which the
// variable dsnEnv holds (named in errors instead of the string itself).
func New(dsn, dsnEnv, query string) *Source {
	return &Source{dsn: dsn, dsnEnv: dsnEnv, query: query}
}

// NewCursor returns a Source for cursor mode: its ReadFrom wraps query as
//
//	SELECT * FROM (<query>) AS invitepipe_source WHERE "<column>" >= $1 ORDER BY "<column>"
//
// with the bound as the parameter $1 (without a bound, only the ORDER BY), so the query
// itself stays as written and references no parameter.
func NewCursor(dsn, dsnEnv, query, column string) *Source {
	return &Source{dsn: dsn, dsnEnv: dsnEnv, query: query, cursor: column}
}

// Read implements source.Source: every row of the query (in cursor order in cursor mode).
func (s *Source) Read(ctx context.Context, yield func(source.Record) error) error {
	return s.ReadFrom(ctx, nil, yield)
}

// ReadFrom implements source.CursorReader; outside cursor mode from must be nil.
func (s *Source) ReadFrom(ctx context.Context, from any, yield func(source.Record) error) error {
	query, args := s.query, []any(nil)
	switch {
	case s.cursor == "" && from != nil:
		return errors.New("postgresql: a cursor bound without a cursor column")
	case s.cursor != "":
		col := pgx.Identifier{s.cursor}.Sanitize()
		query = "SELECT * FROM (" + s.query + "\n) AS invitepipe_source"
		if from != nil {
			query += " WHERE " + col + " >= $1"
			args = append(args, from)
		}
		query += " ORDER BY " + col
	}
	cfg, err := pgx.ParseConfig(s.dsn)
	if err != nil {
		return fmt.Errorf("postgresql: the connection string in %s does not parse (use postgres://user:password@host:5432/db)", s.dsnEnv)
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > connectTimeout {
		cfg.ConnectTimeout = connectTimeout
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgresql: connect (%s): %s", s.dsnEnv, connectError(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("postgresql: query: %w", err)
	}
	defer rows.Close()
	fields := rows.FieldDescriptions()
	n := 0
	for rows.Next() {
		n++
		values, err := rows.Values()
		if err != nil {
			return fmt.Errorf("postgresql: query row %d: %w", n, err)
		}
		rec, err := record(conn, fields, values, n)
		if err != nil {
			return err
		}
		if err := yield(rec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgresql: query: %w", err)
	}
	return nil
}

// connectError describes a failed connection without the connection string.
func connectError(err error) string {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Unwrap() != nil {
		return ce.Unwrap().Error()
	}
	return err.Error()
}

// record converts one row. A value with no JSON form makes the row an error; a column of
// an unsupported type is an error of the query as a whole.
func record(conn *pgx.Conn, fields []pgconn.FieldDescription, values []any, n int) (source.Record, error) {
	where := "row " + strconv.Itoa(n)
	row := make(map[string]any, len(values))
	for i, v := range values {
		f := fields[i]
		out, bad, err := convert(v, f.DataTypeOID)
		if err != nil {
			return source.Record{}, fmt.Errorf("postgresql: column %q: type %s has no row value; cast it in the query (e.g. %s::text)", f.Name, typeName(conn, f.DataTypeOID), f.Name)
		}
		if bad != "" {
			return source.Record{Where: where, Err: fmt.Errorf("query %s, column %q: %s", where, f.Name, bad)}, nil
		}
		if out != nil {
			row[f.Name] = out
		}
	}
	return source.Record{Row: row, Where: where}, nil
}

var errUnsupported = errors.New("unsupported type")

// convert returns v as a row value (nil: absent), or bad: why this value has none, or
// errUnsupported for a type with no mapping.
func convert(v any, oid uint32) (out any, bad string, err error) {
	switch v := v.(type) {
	case nil:
		return nil, "", nil
	case string:
		return v, "", nil
	case bool:
		return v, "", nil
	case int16:
		return json.Number(strconv.FormatInt(int64(v), 10)), "", nil
	case int32:
		return json.Number(strconv.FormatInt(int64(v), 10)), "", nil
	case int64:
		return json.Number(strconv.FormatInt(v, 10)), "", nil
	case uint32:
		return json.Number(strconv.FormatUint(uint64(v), 10)), "", nil
	case float32:
		return float(float64(v), 32)
	case float64:
		return float(v, 64)
	case pgtype.Numeric:
		switch {
		case !v.Valid:
			return nil, "", nil
		case v.NaN:
			return nil, "NaN has no JSON number", nil
		case v.InfinityModifier != pgtype.Finite:
			return nil, "infinity has no JSON number", nil
		}
		text, err := v.Value()
		if err != nil {
			return nil, "", err
		}
		return json.Number(text.(string)), "", nil
	case time.Time:
		switch oid {
		case pgtype.DateOID:
			return v.Format(time.DateOnly), "", nil
		case pgtype.TimestamptzOID:
			return v.UTC().Format(time.RFC3339Nano), "", nil
		}
		return v.Format(time.RFC3339Nano), "", nil
	case [16]byte:
		return pgtype.UUID{Bytes: v, Valid: true}.String(), "", nil
	case []any:
		list := make([]string, len(v))
		for i, item := range v {
			s, ok := item.(string)
			if !ok {
				if item == nil {
					return nil, fmt.Sprintf("item %d is NULL; an array may hold only strings", i), nil
				}
				return nil, "", errUnsupported
			}
			list[i] = s
		}
		return list, "", nil
	}
	return nil, "", errUnsupported
}

func float(f float64, bits int) (any, string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, "NaN and infinity have no JSON number", nil
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, bits)), "", nil
}

// typeName names a type for an error.
func typeName(conn *pgx.Conn, oid uint32) string {
	if t, ok := conn.TypeMap().TypeForOID(oid); ok {
		return t.Name
	}
	return "oid " + strconv.FormatUint(uint64(oid), 10)
}
