package sandbox

import (
	"net/http"
	"strings"
	"testing"
)

func TestHistoryPage(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token()
	e.invite(tok, invitation("older@example.com", "OLD-1"))
	e.invite(tok, `{"consumerEmail":"ann.lee@example.com","consumerName":"<script>alert(1)</script>","referenceNumber":"A-1<b>",`+
		`"serviceReviewInvitation":{},"productReviewInvitation":{"productSkus":["S"]}}`)

	r := e.do(http.MethodGet, "/", "")
	page := string(r.body)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d Content-Type %q", r.status, r.header.Get("Content-Type"))
	}
	for _, want := range []string{
		"Invitation history",
		"&lt;script&gt;alert(1)&lt;/script&gt;", // the name, escaped
		"A-1&lt;b&gt;",                          // the reference, escaped
		"a***@example.com",                      // the email, masked
		">both<", ">sent<", DefaultBusinessUnitID,
		"2 accepted invitation(s)",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, never := range []string{"<script>alert", "ann.lee@example.com", "A-1<b>"} {
		if strings.Contains(page, never) {
			t.Errorf("page shows %q unescaped or unmasked", never)
		}
	}
	if strings.Index(page, "A-1&lt;b&gt;") > strings.Index(page, "OLD-1") {
		t.Errorf("the newest invitation is not listed first")
	}
}

func TestHistoryPageEmpty(t *testing.T) {
	e := newEnv(t, nil)
	if page := string(e.do(http.MethodGet, "/", "").body); !strings.Contains(page, "No invitation yet.") {
		t.Fatalf("empty page: %s", page)
	}
}
