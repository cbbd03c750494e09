// Command benthos is Benthos v4.27.0 with the components a Go engineer would use to
// build invitepipe's consumer out of stock parts: kafka_franz (kafka), the redis cache,
// Bloblang, switch and dedupe (pure), and the http_client output (io). `invitepipe bench
// --consumer-cmd` runs it on the same workload as invitepipe's consumer; see README.md.
package main

import (
	"context"
	"net/http"

	_ "github.com/benthosdev/benthos/v4/public/components/io"
	_ "github.com/benthosdev/benthos/v4/public/components/kafka"
	_ "github.com/benthosdev/benthos/v4/public/components/pure"
	_ "github.com/benthosdev/benthos/v4/public/components/redis"
	"github.com/benthosdev/benthos/v4/public/service"
)

// idleConnsPerHost is what invitepipe's consumer keeps per host: its default
// INVITEPIPE_CONCURRENCY.
const idleConnsPerHost = 256

func main() {
	// Benthos's http_client sends through http.DefaultTransport, which keeps 2 idle
	// connections per host: with hundreds of calls in flight to one host, most calls
	// would open a new connection. invitepipe's consumer keeps as many idle connections
	// as calls it may have in flight; Benthos gets the same here, so the comparison is
	// of the pipelines, not of a transport setting.
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t.MaxIdleConnsPerHost, t.MaxIdleConns = idleConnsPerHost, 2*idleConnsPerHost
	}
	service.RunCLI(context.Background())
}
