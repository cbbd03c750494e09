package trustpilot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// errRequestTimeout is the cause of an exchange's context when
// Config.RequestTimeout elapses.
var errRequestTimeout = errors.New("RequestTimeout elapsed")

// transport sends single HTTP exchanges and turns every failure into an
// *APIError (or the caller's context error).
type transport struct {
	hc        *http.Client
	userAgent string
	timeout   time.Duration
	now       func() time.Time
	secrets   []string // scrubbed from every error: key, secret, password
}

// newTransport builds the transport for cfg, which has its defaults applied.
func newTransport(cfg Config) *transport {
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &transport{
		hc:        hc,
		userAgent: cfg.UserAgent,
		timeout:   cfg.RequestTimeout,
		now:       cfg.Now,
		secrets:   []string{cfg.APIKey, cfg.APISecret, cfg.Password},
	}
}

// exchange is one HTTP request and how to judge its answer.
type exchange struct {
	op       string // names the operation in errors
	method   string
	url      string
	header   http.Header // added to User-Agent and Accept
	body     []byte      // nil: no body
	readBody bool        // the 2xx body is needed, so failing to read it is an error
	classify func(status int) Class
	secrets  []string // scrubbed from errors besides the transport's: tokens
	email    string   // the consumer's address, replaced in error bodies
}

// do sends x once, within Config.RequestTimeout. On a 2xx answer it returns
// the status and, if x.readBody, the body; otherwise it drains the body and
// ignores a failure to read it: the status is the outcome, and calling again
// could send an invitation twice. Any other answer, or none, is an *APIError;
// when ctx itself ends, the error wraps ctx.Err() instead.
func (t *transport) do(ctx context.Context, x exchange) (int, []byte, error) {
	rctx, cancel := context.WithTimeoutCause(ctx, t.timeout, errRequestTimeout)
	defer cancel()

	var body io.Reader
	if x.body != nil {
		body = bytes.NewReader(x.body)
	}
	req, err := http.NewRequestWithContext(rctx, x.method, x.url, body)
	if err != nil {
		return 0, nil, &APIError{Op: x.op, Class: ClassDestinationBroken, Message: "cannot build the request", Err: err}
	}
	for k, v := range x.header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", t.userAgent)
	req.Header.Set("Accept", "application/json")

	resp, err := t.hc.Do(req)
	if err != nil {
		return 0, nil, t.inTransit(ctx, rctx, x.op, 0, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if !x.readBody {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxSuccessBody))
			return resp.StatusCode, nil, nil
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxSuccessBody))
		if err != nil {
			return 0, nil, t.inTransit(ctx, rctx, x.op, resp.StatusCode, err)
		}
		return resp.StatusCode, b, nil
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody)) // a body cut short still explains
	scrub := newScrubber(slices.Concat(x.secrets, t.secrets), x.email)
	return resp.StatusCode, nil, failure(x.op, x.classify(resp.StatusCode), resp, scrub.scrub(string(raw)), t.now())
}

// inTransit turns a failure to send a request or to read its answer (of
// status, 0 if none arrived) into ClassTransient, unless the caller's own
// context ended (ctx), which is reported as such.
func (t *transport) inTransit(ctx, rctx context.Context, op string, status int, err error) error {
	if ctx.Err() != nil {
		return callerEnded(op, ctx)
	}
	e := &APIError{Op: op, Status: status, Class: ClassTransient, Err: err}
	if status != 0 {
		e.Message = "response cut short"
	}
	if errors.Is(context.Cause(rctx), errRequestTimeout) {
		e.Message = fmt.Sprintf("no complete response within RequestTimeout %v", t.timeout)
	}
	return e
}

// callerEnded is the error for the caller's context ending during op. It
// has no class; errors.Is matches ctx.Err().
func callerEnded(op string, ctx context.Context) error {
	return fmt.Errorf("trustpilot: %s: caller's context ended: %w", op, ctx.Err())
}
