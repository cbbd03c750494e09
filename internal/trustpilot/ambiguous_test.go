package trustpilot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
)

func TestAmbiguous(t *testing.T) {
	timeout := &net.OpError{Op: "read", Err: errors.New("i/o timeout")}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"no answer to the invitation call", &APIError{Op: opInvite, Class: ClassTransient, Err: timeout}, true},
		{"answer cut short", &APIError{Op: opInvite, Status: 202, Class: ClassTransient, Message: "response cut short"}, false},
		{"connection refused", &APIError{Op: opInvite, Class: ClassTransient, Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}, false},
		{"unknown host", &APIError{Op: opInvite, Class: ClassTransient, Err: &net.DNSError{Name: "x", IsNotFound: true}}, false},
		{"gateway 502", &APIError{Op: opInvite, Status: 502, Class: ClassTransient}, true},
		{"gateway 504", &APIError{Op: opInvite, Status: 504, Class: ClassTransient}, true},
		{"server 500", &APIError{Op: opInvite, Status: 500, Class: ClassTransient}, false},
		{"cloudfront 520", &APIError{Op: opInvite, Status: 520, Class: ClassTransient}, false},
		{"rejected 400", &APIError{Op: opInvite, Status: 400, Class: ClassRejected}, false},
		{"token mint timed out", &APIError{Op: "mint token", Class: ClassTransient, Err: timeout}, false},
		{"caller's context ended", fmt.Errorf("trustpilot: %s: caller's context ended: %w", opInvite, context.Canceled), true},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Ambiguous(tt.err); got != tt.want {
				t.Errorf("Ambiguous(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
