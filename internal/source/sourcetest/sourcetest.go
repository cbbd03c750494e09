// Package sourcetest helps the sources' tests.
package sourcetest

import (
	"context"
	"reflect"
	"strings"
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

// Check compares what Collect read with the rows wanted (nil and empty alike) and the
// record errors wanted, each a substring of the error in the same place.
func Check(t testing.TB, rows []map[string]any, errs []string, wantRows []map[string]any, wantErrs []string) {
	t.Helper()
	if !reflect.DeepEqual(rows, wantRows) && !(len(rows) == 0 && len(wantRows) == 0) {
		t.Errorf("rows %v, want %v", rows, wantRows)
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("record errors %q, want %d: %q", errs, len(wantErrs), wantErrs)
	}
	for i := range errs {
		if !strings.Contains(errs[i], wantErrs[i]) {
			t.Errorf("record error %d: %q, want it to contain %q", i, errs[i], wantErrs[i])
		}
	}
}
