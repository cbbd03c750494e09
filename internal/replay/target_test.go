package replay_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/invitepipe/invitepipe/internal/replay"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // String() of the target; empty: an error saying wantErr
		wantErr  string
	}{
		{"earliest", "earliest", "earliest", ""},
		{"latest with spaces", " latest ", "latest", ""},
		{"a UTC time", "2024-05-01T00:00:00Z", "2024-05-01T00:00:00Z", ""},
		{"a time with an offset and fractions", "2024-05-01T02:00:00.5+02:00", "2024-05-01T02:00:00.5+02:00", ""},
		{"explicit offsets, sorted by partition", "2:30, 0:1200", "0:1200,2:30", ""},
		{"empty", "", "", "empty"},
		{"a word", "yesterday", "", `"yesterday" is not earliest, latest`},
		{"a date without a time", "2024-05-01", "", "is not earliest, latest"},
		{"a negative offset", "0:-1", "", `"0:-1" is not partition:offset`},
		{"no offset", "0:", "", `"0:" is not partition:offset`},
		{"a partition twice", "0:1,0:2", "", "partition 0 is named twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := replay.ParseTarget(tt.in)
			if tt.wantErr != "" {
				if !errors.Is(err, replay.ErrTarget) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseTarget(%q) = %v, %v; want ErrTarget saying %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("ParseTarget(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestPlanWrite(t *testing.T) {
	target, err := replay.ParseTarget("latest")
	if err != nil {
		t.Fatal(err)
	}
	plan := &replay.Plan{Group: "g", Topic: "rows", Target: target, State: "Empty", Partitions: []replay.Partition{
		{ID: 0, Committed: 4, LogStart: 0, LogEnd: 10, Target: 0},
		{ID: 1, Committed: -1, LogStart: 2, LogEnd: 6, Target: 6, Unsent: 4},
		{ID: 2, Committed: 1, LogStart: 3, LogEnd: 9, Target: 9},
		{ID: 3, Committed: 5, LogStart: 0, LogEnd: 5, Target: 5},
	}}
	var b strings.Builder
	if err := plan.Write(&b); err != nil {
		t.Fatal(err)
	}
	var got []string // the lines with their columns one space apart
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		got = append(got, strings.Join(strings.Fields(l), " "))
	}
	want := []string{
		"group g, topic rows, to latest",
		"PARTITION COMMITTED TARGET LOG EFFECT",
		"0 4 0 0-10 4 rows read again",
		"1 none (starts at 2) 6 2-6 4 rows skipped, 4 of them never sent",
		"2 1 (deleted; resumes at 3) 9 3-9 6 rows skipped, all already done",
		"3 5 5 0-5 unchanged",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("plan output:\n%s\nwant (columns aligned) the lines\n%s", b.String(), strings.Join(want, "\n"))
	}
}
