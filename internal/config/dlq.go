package config

import "errors"

// DLQ is the configuration of `invitepipe dlq`: the activation file (activation ->
// destination, and the row mapping that names an unknown_outcome record's ledger
// entry), Kafka (the DLQ and rows topics) and the ledger's Redis, read as the consumer
// reads it.
type DLQ struct {
	Common
	Kafka
	Redis
	Delivery
}

// Validate checks every section.
func (c *DLQ) Validate() error {
	return errors.Join(c.Common.Validate(), c.Kafka.Validate(), c.Redis.Validate(), c.Delivery.Validate())
}
