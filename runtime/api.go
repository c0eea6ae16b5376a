package runtime

import (
	"context"

	"github.com/flowd-dev/flowd/flow"
	"github.com/flowd-dev/flowd/plivo"
)

// API is the part of Plivo's REST API flowd uses: what flows' REST
// actions need, making calls for the trigger API, and listing a
// MultiPartyCall's participants for member actions. *plivo.Client
// implements it.
type API interface {
	flow.REST
	MakeCall(ctx context.Context, p *plivo.MakeCallParams) (*plivo.MakeCallResponse, error)
	ListParticipants(ctx context.Context, mpc plivo.MPCRef) (*plivo.ParticipantList, error)
	HangupCall(ctx context.Context, callUUID string) (*plivo.Response, error)
}
