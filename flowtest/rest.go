package flowtest

import (
	"net/http"
	"regexp"
	"slices"

	"github.com/flowd-dev/flowd/plivo"
	"github.com/flowd-dev/flowd/plivo/plivotest"
)

// The simulated Plivo answers the REST calls flows make (add_participant
// and the rest) with a fake Plivo API — plivotest, the same fake the
// REST client's own tests check against Plivo's documentation — reached
// through a real plivo.Client, so a flow test exercises the requests
// production sends.

// restOps classifies a request to Plivo's API as the REST action that
// sends it.
var restOps = []struct {
	action, method string
	path           *regexp.Regexp
}{
	{"add_participant", http.MethodPost, regexp.MustCompile(`/MultiPartyCall/[^/]+/Participant/$`)},
	{"update_participant", http.MethodPost, regexp.MustCompile(`/MultiPartyCall/[^/]+/Participant/[^/]+/$`)},
	{"kick_participant", http.MethodDelete, regexp.MustCompile(`/MultiPartyCall/[^/]+/Participant/[^/]+/$`)},
	{"start_recording", http.MethodPost, regexp.MustCompile(`/MultiPartyCall/[^/]+/Record/$`)},
	{"stop_recording", http.MethodDelete, regexp.MustCompile(`/MultiPartyCall/[^/]+/Record/$`)},
}

func restAction(r plivotest.Request) string {
	for _, op := range restOps {
		if r.Method == op.method && op.path.MatchString(r.Path) {
			return op.action
		}
	}
	return ""
}

// fakePlivo starts a fake Plivo API for one case, refusing the actions
// the case lists in rest_errors, and a client for it.
func fakePlivo(failing []string) (*plivotest.Server, *plivo.Client, error) {
	fake := plivotest.New("MAFLOWDTEST000000000", "flowd-test-token")
	if len(failing) > 0 {
		fake.Override = func(r plivotest.Request) *plivotest.Reply {
			if a := restAction(r); a != "" && slices.Contains(failing, a) {
				return &plivotest.Reply{Status: http.StatusBadRequest, Body: map[string]string{
					"api_id": "flowd-test", "error": a + " refused by the test (rest_errors)",
				}}
			}
			return nil
		}
	}
	client, err := plivo.NewClient(plivo.Config{
		AuthID: fake.AuthID, AuthToken: fake.AuthToken, BaseURL: fake.URL,
		CPS: -1, MaxRetries: -1, HTTPClient: fake.Client(),
	})
	if err != nil {
		fake.Close()
		return nil, nil, err
	}
	return fake, client, nil
}
