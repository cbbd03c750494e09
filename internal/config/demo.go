package config

import "errors"

// Demo is the configuration of `invitepipe demo`: the consumer's and the producer's
// settings. The demo sets the Kafka, Redis and Trustpilot addresses, topics and group
// itself (embedded parts, or those its flags name); the rest applies as in production.
type Demo struct {
	Consumer
	Production
}

// Validate checks every section.
func (c *Demo) Validate() error {
	return errors.Join(c.Consumer.Validate(), c.Production.Validate())
}
