package kafkaclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/backoff"
)

// ProbeTimeout bounds Probe.
const ProbeTimeout = 10 * time.Second

// Probe asks the cluster for its metadata once and returns an error only
// when the answer shows the client's configuration cannot work: the TLS
// handshake or SASL authentication failed, or the principal may not
// describe the cluster. franz-go retries such failures until a record or
// request times out, long after the cause is known; Apache's clients fail
// at once, and so does Ferry's start-up with this check. An unreachable
// cluster is not reported: the client keeps retrying as usual.
func Probe(ctx context.Context, cl *kgo.Client) error {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	for ctx.Err() == nil {
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{} // none: only brokers and cluster
		_, err := req.RequestWith(ctx, cl)
		if err == nil {
			return nil
		}
		if fatal := Fatal(err); fatal != nil {
			// Refused credentials, an untrusted certificate or a missing
			// ACL do not heal by waiting: no automatic restarts for them.
			return connect.NonRetriable(fatal)
		}
		// Nothing listens: there is no handshake to judge, and waiting
		// here would only hold up the start of a task while the cluster
		// is down.
		var opErr *net.OpError
		if errors.As(err, &opErr) && opErr.Op == "dial" {
			return nil
		}
		backoff.Sleep(ctx, 250*time.Millisecond)
	}
	return nil // unreachable or slow: not a configuration problem
}

// Fatal returns a clear error when err shows a security misconfiguration
// (TLS trust or host name, client certificate, SASL credentials,
// authorization), or nil for other errors.
func Fatal(err error) error {
	if err == nil {
		return nil
	}
	var (
		unknownCA *x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		recordHdr tls.RecordHeaderError
		verify    *tls.CertificateVerificationError
	)
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.IllegalSaslState), errors.Is(err, kerr.UnsupportedSaslMechanism):
		return fmt.Errorf("Kafka SASL authentication failed (check sasl.mechanism and the credentials in sasl.jaas.config): %w", err)
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return fmt.Errorf("the Kafka broker's TLS certificate was not accepted (check ssl.truststore.* and ssl.endpoint.identification.algorithm): %w", err)
	case errors.As(err, &recordHdr):
		return fmt.Errorf("the Kafka listener does not speak TLS (check security.protocol): %w", err)
	case errors.Is(err, kerr.ClusterAuthorizationFailed), errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed),
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		return fmt.Errorf("the Kafka principal is not authorized (check the ACLs): %w", err)
	}
	// The broker's TLS alerts reach Go as an unexported error type.
	var opErr *net.OpError
	if errors.As(err, &opErr) && strings.Contains(err.Error(), "remote error: tls:") {
		return fmt.Errorf("the Kafka broker rejected the TLS handshake (it may require a client certificate it trusts: check ssl.keystore.*): %w", err)
	}
	return nil
}
