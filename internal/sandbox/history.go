package sandbox

import (
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/invitepipe/invitepipe/internal/logging"
)

// historyLimit is how many invitations the history page shows, newest first.
const historyLimit = 200

// historyPage is the "Invitation history" page; html/template escapes every value.
var historyPage = template.Must(template.New("history").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Invitation history · invitepipe sandbox</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#1c1c1c}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.4rem .6rem;text-align:left;font-size:.9rem}
th{background:#f4f4f4}
.notsent{color:#8a6d00}.sent{color:#05784e}.suppressed{color:#888}
</style></head><body>
<h1>Invitation history</h1>
<p>{{.Total}} accepted invitation(s){{if gt .Total (len .Rows)}}, the latest {{len .Rows}} shown{{end}}. Times are UTC; <a href="/_sandbox/invitations">JSON</a> · <a href="/_sandbox/stats">stats</a>.</p>
{{if .Rows}}<table>
<thead><tr><th>Time</th><th>Business unit</th><th>Reference</th><th>Email</th><th>Name</th><th>Status</th><th>Type</th><th>Send at</th></tr></thead>
<tbody>{{range .Rows}}
<tr><td>{{.Created}}</td><td>{{.BusinessUnit}}</td><td>{{.Reference}}</td><td>{{.Email}}</td><td>{{.Name}}</td><td class="{{.Status}}">{{.Status}}</td><td>{{.Type}}</td><td>{{.SendAt}}</td></tr>{{end}}
</tbody></table>{{else}}<p>No invitation yet.</p>{{end}}
</body></html>
`))

// historyRow is one invitation as the page shows it: email masked.
type historyRow struct {
	Created, BusinessUnit, Reference, Email, Name, Status, Type, SendAt string
}

// handleHistory serves the Invitation history page at GET /.
func (s *Server) handleHistory(w http.ResponseWriter, _ *http.Request) {
	all := s.Invitations("", "")
	slices.Reverse(all)
	data := struct {
		Total int
		Rows  []historyRow
	}{Total: len(all)}
	for _, inv := range all[:min(len(all), historyLimit)] {
		data.Rows = append(data.Rows, historyRow{
			Created:      inv.CreatedAt.UTC().Format(time.DateTime),
			BusinessUnit: inv.BusinessUnitID,
			Reference:    inv.ReferenceNumber,
			Email:        logging.MaskEmail(inv.ConsumerEmail),
			Name:         inv.ConsumerName,
			Status:       string(inv.Status),
			Type:         inv.Type,
			SendAt:       inv.SendAt.UTC().Format(time.DateTime),
		})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := historyPage.Execute(w, data); err != nil {
		s.log.Error().Err(err).Msg("render invitation history")
	}
}
