package logging

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestMaskEmail(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain address", "ann.lee@example.com", "a***@example.com"},
		{"one-letter local part", "a@example.com", "a***@example.com"},
		{"surrounding blanks", "  bob@shop.eu ", "b***@shop.eu"},
		{"multibyte first letter", "émile@exemple.fr", "é***@exemple.fr"},
		{"quoted local part with @", `"a@b"@example.com`, `"***@example.com`},
		{"no at sign", "not-an-email", "***"},
		{"empty local part", "@example.com", "***"},
		{"empty domain", "ann@", "***"},
		{"empty", "", "***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskEmail(tt.in); got != tt.want {
				t.Errorf("MaskEmail(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMaskEmails(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"JSON values", `{"email":"ann.lee@example.com","cc":["bo@shop.eu"],"name":"Ann"}`, `{"email":"a***@example.com","cc":["b***@shop.eu"],"name":"Ann"}`},
		{"not an address but looks like one", `{"email":"bo@example"}`, `{"email":"b***@example"}`},
		{"inside text", "write to ann@example.com, or bo@shop.eu.", "write to a***@example.com, or b***@shop.eu."},
		{"a key", "orders/ann@example.com", "orders/a***@example.com"},
		{"no address", `{"row_id":"A-1","at":"@home"}`, `{"row_id":"A-1","at":"@home"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskEmails(tt.in); got != tt.want {
				t.Errorf("MaskEmails(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNewWritesJSONAtLevel(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "warn")
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Msg("hidden")
	log.Warn().Str("email", MaskEmail("ann@example.com")).Msg("shown")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("want exactly one JSON line, got %q: %v", buf.String(), err)
	}
	if line["message"] != "shown" || line["level"] != "warn" || line["email"] != "a***@example.com" || line["time"] == nil {
		t.Errorf("log line = %v", line)
	}
}

func TestNewRejectsUnknownLevel(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, "loud"); err == nil {
		t.Error("New accepted level \"loud\"")
	}
}
