// Command marketplane-rabbitvhost is the RabbitMQ virtual host connector: it
// sells virtual hosts on the local RabbitMQ through the connector protocol.
//
// Configuration, besides what connector.Serve reads:
//
//	MARKETPLANE_RABBITVHOST_STATE        state file (default data/rabbitvhost.db); holds passwords, keep it private
//	MARKETPLANE_RABBITVHOST_RABBITMQCTL  rabbitmqctl path (default rabbitmqctl)
//	MARKETPLANE_RABBITVHOST_NODE         RabbitMQ node for rabbitmqctl -n (default: the tool's default)
//	MARKETPLANE_RABBITVHOST_AMQP_HOST    broker host shown to customers (default 127.0.0.1)
//	MARKETPLANE_RABBITVHOST_AMQP_PORT    broker port shown to customers (default 5672)
//	MARKETPLANE_RABBITVHOST_PREFIX       prefix of virtual host and user names (default mp-)
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/marketplane/marketplane/connector"
	"github.com/marketplane/marketplane/connectors/rabbitvhost"
)

func main() {
	cfg := rabbitvhost.Config{
		StatePath:   env("MARKETPLANE_RABBITVHOST_STATE", "data/rabbitvhost.db"),
		Rabbitmqctl: env("MARKETPLANE_RABBITVHOST_RABBITMQCTL", "rabbitmqctl"),
		Node:        os.Getenv("MARKETPLANE_RABBITVHOST_NODE"),
		AMQPHost:    env("MARKETPLANE_RABBITVHOST_AMQP_HOST", "127.0.0.1"),
		NamePrefix:  os.Getenv("MARKETPLANE_RABBITVHOST_PREFIX"),
	}
	if p := os.Getenv("MARKETPLANE_RABBITVHOST_AMQP_PORT"); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port <= 0 || port > 65535 {
			fail(fmt.Errorf("MARKETPLANE_RABBITVHOST_AMQP_PORT=%q is not a port", p))
		}
		cfg.AMQPPort = port
	}
	svc, err := rabbitvhost.Open(context.Background(), cfg)
	if err != nil {
		fail(err)
	}
	defer svc.Close()
	svc.Start()
	connector.Serve(svc)
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "marketplane-rabbitvhost:", err)
	os.Exit(1)
}
