// Package sourcetest helps the sources' tests.
package sourcetest

import (
	"context"
	"testing"

	"github.com/invitepipe/invitepipe/internal/source"
)

// Collect reads every record of s: the rows, the errors of bad records (as text, in
// order) and Read's own error.
func Collect(t testing.TB, s source.Source) ([]map[string]any, []string, error) {
	t.Helper()
	var rows []map[string]any
	var errs []string
	err := s.Read(context.Background(), func(r source.Record) error {
		if r.Err != nil {
			errs = append(errs, r.Err.Error())
			return nil
		}
		rows = append(rows, r.Row)
		return nil
	})
	return rows, errs, err
}
