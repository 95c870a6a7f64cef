// Package kafkaclient turns Apache Kafka's Java client properties into
// franz-go client options, so that every Kafka client a worker makes (the
// group member, the internal topic logs, source producers, sink consumers,
// dead letter queue producers and admin clients) reads the same keys with
// the same meaning as in Apache Kafka Connect: security.protocol, the ssl.*
// trust and key stores (JKS, PKCS12, PEM, read by internal/sslconf), SASL PLAIN, SCRAM and
// OAUTHBEARER through sasl.jaas.config, and the common producer, consumer
// and admin tuning keys.
//
// It also knows which worker keys reach which client (the producer.,
// consumer. and admin. prefixes and the connector's *.override. keys under
// connector.client.config.override.policy). A property it does not
// implement is reported as a warning; a security property (ssl., sasl.,
// security.) it cannot honour is an error, so a client never falls back to
// weaker security than configured.
package kafkaclient
