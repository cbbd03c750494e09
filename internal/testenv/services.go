package testenv

import (
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// Variables that locate the shared services; `scripts/services env` prints them.
const (
	// KafkaBrokersEnv holds comma-separated bootstrap brokers, e.g. 127.0.0.1:9092.
	KafkaBrokersEnv = "INVITEPIPE_TEST_KAFKA_BROKERS"
	// KafkaSASLBrokersEnv holds comma-separated bootstrap brokers of the same cluster's
	// SASL_PLAINTEXT listener (PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512), e.g. 127.0.0.1:9094.
	KafkaSASLBrokersEnv = "INVITEPIPE_TEST_KAFKA_SASL_BROKERS"
	// KafkaSASLUsernameEnv holds the user that every SASL mechanism accepts.
	KafkaSASLUsernameEnv = "INVITEPIPE_TEST_KAFKA_SASL_USERNAME"
	// KafkaSASLPasswordEnv holds that user's password.
	KafkaSASLPasswordEnv = "INVITEPIPE_TEST_KAFKA_SASL_PASSWORD"
	// KafkaTLSBrokersEnv holds comma-separated bootstrap brokers of the same cluster's SSL
	// listener (no client certificates), e.g. 127.0.0.1:9095.
	KafkaTLSBrokersEnv = "INVITEPIPE_TEST_KAFKA_TLS_BROKERS"
	// KafkaTLSCAFileEnv holds the path of the PEM file of the test CA that signs that
	// listener's certificate (for 127.0.0.1 and localhost).
	KafkaTLSCAFileEnv = "INVITEPIPE_TEST_KAFKA_TLS_CA_FILE"
	// TLSCertFileEnv holds the path of a PEM certificate for 127.0.0.1 and localhost that
	// the same test CA signs, for TLS servers that tests start themselves.
	TLSCertFileEnv = "INVITEPIPE_TEST_TLS_CERT_FILE"
	// TLSKeyFileEnv holds the path of that certificate's unencrypted PEM private key.
	TLSKeyFileEnv = "INVITEPIPE_TEST_TLS_KEY_FILE"
	// RedisURLEnv holds a redis:// URL with the test password.
	RedisURLEnv = "INVITEPIPE_TEST_REDIS_URL"
	// PostgresURLEnv holds a postgres:// URL of the test database.
	PostgresURLEnv = "INVITEPIPE_TEST_POSTGRES_URL"
)

// dialTimeout bounds the reachability check of one address.
const dialTimeout = 3 * time.Second

const startHint = "start them with `scripts/services up` and `eval \"$(scripts/services env)\"`"

// Kafka returns the bootstrap brokers of the shared Kafka cluster.
func Kafka(t testing.TB) []string {
	t.Helper()
	return brokers(t, KafkaBrokersEnv)
}

// KafkaSASL returns the bootstrap brokers of the shared Kafka cluster's SASL listener and
// the user and password that PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 all accept there.
func KafkaSASL(t testing.TB) (brokerList []string, username, password string) {
	t.Helper()
	username, ok := lookup(t, KafkaSASLUsernameEnv)
	if !ok {
		return nil, "", ""
	}
	password, ok = lookup(t, KafkaSASLPasswordEnv)
	if !ok {
		return nil, "", ""
	}
	brokerList = brokers(t, KafkaSASLBrokersEnv)
	if brokerList == nil {
		return nil, "", ""
	}
	return brokerList, username, password
}

// KafkaTLS returns the bootstrap brokers of the shared Kafka cluster's TLS listener and the
// PEM file of the CA that signs its certificate, which no system trusts.
func KafkaTLS(t testing.TB) (brokerList []string, caFile string) {
	t.Helper()
	caFile, ok := existingFile(t, KafkaTLSCAFileEnv)
	if !ok {
		return nil, ""
	}
	brokerList = brokers(t, KafkaTLSBrokersEnv)
	if brokerList == nil {
		return nil, ""
	}
	return brokerList, caFile
}

// existingFile reads a file's path from env, reporting the service unavailable when it is
// unset or names no file.
func existingFile(t testing.TB, env string) (string, bool) {
	t.Helper()
	path, ok := lookup(t, env)
	if !ok {
		return "", false
	}
	if _, err := os.Stat(path); err != nil {
		unavailable(t, "%s: %v", env, err)
		return "", false
	}
	return path, true
}

// brokers reads comma-separated brokers from env and checks that each answers.
func brokers(t testing.TB, env string) []string {
	t.Helper()
	value, ok := lookup(t, env)
	if !ok {
		return nil
	}
	var list []string
	for _, b := range strings.Split(value, ",") {
		if b = strings.TrimSpace(b); b != "" {
			list = append(list, b)
		}
	}
	if !reachable(t, env, list...) {
		return nil
	}
	return list
}

// RedisURL returns the URL of the shared Redis, password included.
func RedisURL(t testing.TB) string {
	t.Helper()
	return serviceURL(t, RedisURLEnv, "6379")
}

// PostgresURL returns the URL of the shared PostgreSQL test database.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return serviceURL(t, PostgresURLEnv, "5432")
}

// serviceURL reads a URL from env and checks that its host answers, on defaultPort when the
// URL names none.
func serviceURL(t testing.TB, env, defaultPort string) string {
	t.Helper()
	value, ok := lookup(t, env)
	if !ok {
		return ""
	}
	u, err := url.Parse(value)
	if err != nil || u.Hostname() == "" {
		t.Fatalf("testenv: %s=%q is not a URL with a host; set it from `scripts/services env`", env, value)
		return ""
	}
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	if !reachable(t, env, net.JoinHostPort(u.Hostname(), port)) {
		return ""
	}
	return value
}

// lookup returns the value of env, reporting the service unavailable when it is unset.
func lookup(t testing.TB, env string) (string, bool) {
	t.Helper()
	value := strings.TrimSpace(os.Getenv(env))
	if value == "" {
		unavailable(t, "%s is not set", env)
		return "", false
	}
	return value, true
}

// reachable reports whether every address accepts a TCP connection, reporting the service
// unavailable when one does not.
func reachable(t testing.TB, env string, addrs ...string) bool {
	t.Helper()
	if len(addrs) == 0 {
		unavailable(t, "%s names no address", env)
		return false
	}
	for _, addr := range addrs {
		conn, err := net.DialTimeout("tcp", addr, dialTimeout)
		if err != nil {
			unavailable(t, "%s: %s does not answer: %v", env, addr, err)
			return false
		}
		conn.Close()
	}
	return true
}

// unavailable fails the test on CI, where every service must run, and skips it elsewhere.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := "testenv: service unavailable: " + format + "; " + startHint
	if os.Getenv("CI") == "true" {
		t.Fatalf(msg, args...)
		return
	}
	t.Skipf(msg, args...)
}
