package runtime

import (
	"net/http"
	"time"

	"github.com/flowd-dev/flowd/flow"
)

// flowsJSON is the answer of GET /v1/flows.
type flowsJSON struct {
	Flows    []flowJSON     `json:"flows"`
	Rejected []rejectedJSON `json:"rejected"`
}

type flowJSON struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Source   string `json:"source"`
	LoadedAt string `json:"loaded_at"`
}

type rejectedJSON struct {
	Path string `json:"path"`
	// Diagnostics write as flowd validate --format json writes them.
	Diagnostics flow.Diagnostics `json:"diagnostics"`
}

// flowsList answers GET /v1/flows: each flow served (its current version,
// the file it came from, when that version began serving) and each file
// the latest reload rejected, with its diagnostics; by name and by path.
func (s *Server) flowsList(w http.ResponseWriter, _ *http.Request) {
	flows, rejected := s.reg.Flows()
	out := flowsJSON{Flows: make([]flowJSON, 0, len(flows)), Rejected: make([]rejectedJSON, 0, len(rejected))}
	for _, f := range flows {
		out.Flows = append(out.Flows, flowJSON{Name: f.Name, Version: f.Version, Source: f.Source, LoadedAt: f.LoadedAt.UTC().Format(time.RFC3339)})
	}
	for _, rf := range rejected {
		out.Rejected = append(out.Rejected, rejectedJSON{Path: rf.Path, Diagnostics: append(flow.Diagnostics{}, rf.Diagnostics...)})
	}
	writeJSON(w, http.StatusOK, out)
}
