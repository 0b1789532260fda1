package rabbitvhost

import (
	"errors"
	"maps"

	"github.com/marketplane/marketplane"
	"github.com/marketplane/marketplane/connector"
)

// Version is the connector's version in its manifest.
const Version = "1.0.0"

// Resource keys. Connections and queues are limits the customer buys (the
// queue count is also read back as usage); messages ready is a gauge.
const (
	ResourceConnections   = "connections"
	ResourceQueues        = "queues"
	ResourceMessagesReady = "messages_ready"
)

// Parameter keys. Both are fixed when the virtual host is created: RabbitMQ
// 3.10 has no command to change them afterwards.
const (
	ParamQueueType   = "queue_type"
	ParamDescription = "description"
)

// defaultLimits apply to a limit a create request leaves out.
var defaultLimits = map[string]int64{ResourceConnections: 10, ResourceQueues: 10}

// descriptionPattern keeps descriptions to plain text that is also safe to
// hand to the rabbitmqctl wrapper (see rabbitmqctl): no quotes, no $, no
// backslash, and no leading dash that could read as an option.
const descriptionPattern = `^[A-Za-z0-9][A-Za-z0-9 .,:_()/-]{0,99}$`

// Manifest describes the connector at GET /manifest.
func (s *Service) Manifest() connector.Manifest {
	return connector.Manifest{
		Name:    "rabbitmq-vhost",
		Version: Version,
		Description: "RabbitMQ virtual hosts as a service: each tenant is a virtual host " +
			"with its own user, limited in connections and queues (10 each unless the plan says otherwise). " +
			"Provisioning is asynchronous (202, then poll).",
		Resources: []connector.ResourceSpec{
			{Key: ResourceConnections, Unit: "connection", Class: connector.ClassLimit,
				Name: map[string]string{"en": "AMQP connections", "de": "AMQP-Verbindungen"}},
			{Key: ResourceQueues, Unit: "queue", Class: connector.ClassLimit,
				Name: map[string]string{"en": "Queues", "de": "Warteschlangen"}},
			{Key: ResourceMessagesReady, Unit: "message", Class: connector.ClassGauge,
				Name: map[string]string{"en": "Messages ready", "de": "Bereite Nachrichten"}},
		},
		Parameters: []connector.ParamSpec{
			{Key: ParamQueueType, Type: connector.ParamEnum, Choices: []string{"classic", "quorum"},
				Description: "Type of the queues a client declares without choosing one (default classic); fixed at creation."},
			{Key: ParamDescription, Type: connector.ParamString, Pattern: descriptionPattern,
				Description: "A label for the virtual host, shown in the RabbitMQ management UI; fixed at creation."},
		},
	}
}

// validate checks limits and parameters as the SDK does for the manifest
// (it checks before the Service is called over HTTP; the Service checks again
// for callers in the same process), plus this connector's own rule: a gauge
// is measured, not limited.
func validate(m connector.Manifest, checked error, limits map[string]int64) error {
	f := map[string]string{}
	var e *marketplane.Error
	if errors.As(checked, &e) {
		maps.Copy(f, e.Fields)
	} else if checked != nil {
		return checked
	}
	for k := range limits {
		if r, ok := m.Resource(k); ok && r.Class != connector.ClassLimit {
			f["limits."+k] = "is measured, not limited"
		}
	}
	if len(f) > 0 {
		return connector.Invalid(f)
	}
	return nil
}

// resolveLimits fills the limits a create request leaves out with their
// defaults.
func resolveLimits(req map[string]int64) (connections, queues int64) {
	get := func(k string) int64 {
		if v, ok := req[k]; ok {
			return v
		}
		return defaultLimits[k]
	}
	return get(ResourceConnections), get(ResourceQueues)
}

// cleanParams drops empty values: a stored parameter left empty is the
// broker's default and not reported.
func cleanParams(p map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range p {
		if v != "" {
			out[k] = v
		}
	}
	return out
}
