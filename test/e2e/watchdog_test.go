package e2e

import (
	"errors"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestWatchdogExitsWhenWedged gives the consumer a Redis password that is refused: every
// message stays without an outcome (never sent without the ledger, never dead-lettered),
// nothing moves while the group has lag, and the watchdog stops the process with a
// non-zero status so that Kubernetes restarts it and the crash loop is visible.
func TestWatchdogExitsWhenWedged(t *testing.T) {
	s := newStack(t, stackOptions{})
	u, err := url.Parse(s.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("", "wrong-password")
	s.env["INVITEPIPE_REDIS_URL"] = u.String()
	s.env["INVITEPIPE_WATCHDOG_TIMEOUT"] = "2s"
	w := newWorkload(30, 0, 0, 3)
	s.produce(w.records)

	c := s.launch("wedged")
	select {
	case <-c.done:
	case <-time.After(60 * time.Second):
		t.Fatal("the watchdog did not stop a consumer that made no progress for 60s")
	}
	var exit *exec.ExitError
	if !errors.As(c.err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit = %v, want status 1", c.err)
	}
	if log := c.log.String(); !strings.Contains(log, "no progress while the group has lag") {
		t.Errorf("the log does not say why it stopped:\n%s", tail(log, 2000))
	}
	if n := len(s.sent()); n != 0 {
		t.Errorf("%d invitations sent without a working ledger", n)
	}
	if n := s.dlqCount(); n != 0 {
		t.Errorf("%d dead letters written because the ledger was refused", n)
	}
}
