package rediserr

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/redis/go-redis/v9"
)

// Unavailable reports whether err, from a go-redis call, means Redis cannot serve for now
// and will again without an operator: retry with backoff. False for nil, for the caller's
// cancellation (context.Canceled) and for errors that need an operator (authentication,
// ACL, OOM, WRONGTYPE, script errors, a closed client).
func Unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var netErr net.Error
	_, moved := redis.IsMovedError(err)
	_, ask := redis.IsAskError(err)
	return errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, redis.ErrPoolTimeout) ||
		errors.Is(err, redis.ErrPoolExhausted) ||
		errors.As(err, &netErr) ||
		moved || ask ||
		redis.IsLoadingError(err) ||
		redis.IsReadOnlyError(err) ||
		redis.IsClusterDownError(err) ||
		redis.IsTryAgainError(err) ||
		redis.IsMasterDownError(err) ||
		redis.IsMaxClientsError(err) ||
		redis.HasErrorPrefix(err, "BUSY ")
}
