package config

import "errors"

// Replay is the configuration of `invitepipe replay`: the group's offsets live in Kafka,
// the offsets done past them (the consumer's progress records) in Redis.
type Replay struct {
	Kafka
	Redis
}

// Validate checks every section.
func (c *Replay) Validate() error {
	return errors.Join(c.Kafka.Validate(), c.Redis.Validate())
}
