package sandbox

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestServeStopsWhenCancelled(t *testing.T) {
	sb, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sb.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/_sandbox/stats")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v, want nil", err)
	}
}

func TestListenAndServeReportsListenErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:-1"
	sb, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.ListenAndServe(context.Background()); err == nil || !strings.Contains(err.Error(), "listen on 127.0.0.1:-1") {
		t.Fatalf("ListenAndServe = %v, want a listen error", err)
	}
}
