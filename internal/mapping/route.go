package mapping

import (
	"fmt"

	"github.com/invitepipe/invitepipe/internal/activation"
	"github.com/invitepipe/invitepipe/internal/row"
	"github.com/invitepipe/invitepipe/internal/trustpilot"
)

// Router turns row messages into invitations by their activation: decode, find the
// activation in the file, map its row. It is how tools outside the consumer (check, DLQ
// redrive) see a message as the consumer sees it, and how the consumer sees it.
type Router struct {
	routes map[string]route // by activation id
}

type route struct {
	Routed // Activation and Destination only
	mapper *Mapper
}

// NewRouter returns the Router of the activations of f, a validated file.
func NewRouter(f *activation.File) *Router {
	r := &Router{routes: make(map[string]route, len(f.Activations))}
	for i := range f.Activations {
		a := &f.Activations[i]
		d, _ := f.Destination(a.Destination)
		r.routes[a.ID] = route{Routed: Routed{Activation: a, Destination: d}, mapper: New(a, d)}
	}
	return r
}

// Routed is a row message mapped to its invitation.
type Routed struct {
	Message     row.Message
	Activation  *activation.Activation
	Destination *activation.Destination // its business unit keys the ledger
	Invitation  trustpilot.Invitation
}

// Route decodes value and maps its row: Find, then Map. The error is a
// *row.MalformedError, an *UnknownActivationError or an *InvalidRowError; each has the
// Class of its dead letter.
func (r *Router) Route(value []byte) (Routed, error) {
	found, err := r.Find(value)
	if err != nil {
		return Routed{}, err
	}
	return r.Map(found)
}

// Find decodes value and finds its activation: a Routed without its Invitation. The
// error is a *row.MalformedError or an *UnknownActivationError.
func (r *Router) Find(value []byte) (Routed, error) {
	msg, err := row.Decode(value)
	if err != nil {
		return Routed{}, err
	}
	rt, ok := r.routes[msg.Activation]
	if !ok {
		return Routed{}, &UnknownActivationError{Activation: msg.Activation}
	}
	out := rt.Routed
	out.Message = msg
	return out, nil
}

// Map maps the row of found, a Routed that Find returned, to its invitation. The error
// is an *InvalidRowError.
func (r *Router) Map(found Routed) (Routed, error) {
	inv, err := r.routes[found.Activation.ID].mapper.Map(found.Message.Row)
	if err != nil {
		return Routed{}, err
	}
	found.Invitation = inv
	return found, nil
}

// UnknownActivationError says a message names an activation the file does not have.
// Its dead-letter class is "unknown_activation".
type UnknownActivationError struct {
	Activation string
}

func (e *UnknownActivationError) Error() string {
	return fmt.Sprintf("activation %q is not in the activation file; add it, then redrive", e.Activation)
}

// Class returns the dead-letter error class, "unknown_activation".
func (e *UnknownActivationError) Class() string { return "unknown_activation" }
