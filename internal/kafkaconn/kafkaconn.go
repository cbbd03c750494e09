package kafkaconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/invitepipe/invitepipe/internal/config"
)

// dialTimeout bounds connecting to one broker, TLS and SASL included.
const dialTimeout = 10 * time.Second

// Conn holds what readers, writers and admin calls need to reach the brokers.
type Conn struct {
	Brokers   []string
	Dialer    *kafka.Dialer    // for readers and consumer groups
	Transport *kafka.Transport // for writers and kafka.Client
}

// New builds the dialer and transport for cfg.
func New(cfg config.Kafka) (*Conn, error) {
	tlsConfig, err := tlsConfig(cfg)
	if err != nil {
		return nil, err
	}
	mechanism, err := saslMechanism(cfg)
	if err != nil {
		return nil, err
	}
	return &Conn{
		Brokers:   cfg.Brokers,
		Dialer:    &kafka.Dialer{Timeout: dialTimeout, DualStack: true, TLS: tlsConfig, SASLMechanism: mechanism},
		Transport: &kafka.Transport{DialTimeout: dialTimeout, TLS: tlsConfig, SASL: mechanism},
	}, nil
}

func tlsConfig(cfg config.Kafka) (*tls.Config, error) {
	if !cfg.TLS {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSCAFile == "" {
		return c, nil
	}
	pem, err := os.ReadFile(cfg.TLSCAFile)
	if err != nil {
		return nil, fmt.Errorf("INVITEPIPE_KAFKA_TLS_CA_FILE: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("INVITEPIPE_KAFKA_TLS_CA_FILE: %s holds no PEM certificate", cfg.TLSCAFile)
	}
	c.RootCAs = pool
	return c, nil
}

func saslMechanism(cfg config.Kafka) (sasl.Mechanism, error) {
	switch cfg.SASLMechanism {
	case "":
		return nil, nil
	case "PLAIN":
		return plain.Mechanism{Username: cfg.SASLUsername, Password: cfg.SASLPassword}, nil
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		algo := scram.SHA256
		if cfg.SASLMechanism == "SCRAM-SHA-512" {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, cfg.SASLUsername, cfg.SASLPassword)
		if err != nil {
			// scram's errors name the failing step, never the password.
			return nil, fmt.Errorf("INVITEPIPE_KAFKA_SASL_MECHANISM %s: %w", cfg.SASLMechanism, err)
		}
		return m, nil
	}
	return nil, errors.New("INVITEPIPE_KAFKA_SASL_MECHANISM: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
}
