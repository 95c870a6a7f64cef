package kafkaclient

import (
	"maps"
	"slices"

	"github.com/ferryhq/ferry/connect"
)

// keyDoc documents one Java client property Ferry reads: its Apache type
// and default, and what Ferry does with it.
type keyDoc struct {
	typ connect.ConfigType
	def any
	doc string
}

var keyDocs = map[string]keyDoc{
	"bootstrap.servers":                     {connect.TypeList, nil, "Brokers to connect to (producer and consumer clients default to the worker's)."},
	"client.id":                             {connect.TypeString, "", "Client id sent to the brokers."},
	"connections.max.idle.ms":               {connect.TypeLong, int64(540000), "Idle connections are closed after this long (franz-go ConnIdleTimeout)."},
	"metadata.max.age.ms":                   {connect.TypeLong, int64(300000), "Longest time between metadata refreshes."},
	"request.timeout.ms":                    {connect.TypeInt, 30000, "Added to each request's own timeout to bound the wait for a response."},
	"socket.connection.setup.timeout.ms":    {connect.TypeLong, int64(10000), "Dial timeout, TLS handshake included."},
	"retry.backoff.ms":                      {connect.TypeLong, int64(100), "First backoff between retries; doubles up to retry.backoff.max.ms, with 20% jitter."},
	"retry.backoff.max.ms":                  {connect.TypeLong, int64(1000), "Longest backoff between retries."},
	"client.rack":                           {connect.TypeString, "", "Rack of the consumer, for fetching from the closest replica."},
	"retries":                               {connect.TypeInt, 2147483647, "Retries of a produce request before its records fail."},
	"acks":                                  {connect.TypeString, "all", "all/-1, 1 or 0; 1 and 0 turn idempotence off."},
	"enable.idempotence":                    {connect.TypeBoolean, true, "Idempotent produce."},
	"linger.ms":                             {connect.TypeLong, int64(5), "How long a batch waits for more records."},
	"max.request.size":                      {connect.TypeInt, 1048576, "Largest record batch (and so record) the producer sends."},
	"compression.type":                      {connect.TypeString, "none", "none, gzip, snappy, lz4 or zstd."},
	"delivery.timeout.ms":                   {connect.TypeInt, 120000, "Time after which an unacknowledged record fails."},
	"max.in.flight.requests.per.connection": {connect.TypeInt, 5, "Produce requests in flight per broker."},
	"buffer.memory":                         {connect.TypeLong, int64(33554432), "Bytes of records buffered before producing blocks."},
	"fetch.min.bytes":                       {connect.TypeInt, 1, "Bytes a fetch waits for."},
	"fetch.max.bytes":                       {connect.TypeInt, 52428800, "Largest fetch response."},
	"max.partition.fetch.bytes":             {connect.TypeInt, 1048576, "Largest fetch per partition."},
	"fetch.max.wait.ms":                     {connect.TypeInt, 500, "Longest wait of a fetch for fetch.min.bytes."},
	"session.timeout.ms":                    {connect.TypeInt, 45000, "Consumer group session timeout."},
	"heartbeat.interval.ms":                 {connect.TypeInt, 3000, "Consumer group heartbeat interval."},
	"max.poll.interval.ms":                  {connect.TypeInt, 300000, "Rebalance timeout of the sink's consumer group."},
	"max.poll.records":                      {connect.TypeInt, 500, "Largest batch of records one put() receives."},
	"auto.offset.reset":                     {connect.TypeString, "earliest", "earliest, latest or none (Connect's sink default is earliest)."},
	"isolation.level":                       {connect.TypeString, "read_uncommitted", "read_committed or read_uncommitted."},
	"group.id":                              {connect.TypeString, nil, "Sink consumer group (default connect-<connector>)."},
	"group.instance.id":                     {connect.TypeString, nil, "Static group membership id."},
	"partition.assignment.strategy":         {connect.TypeList, []string{"org.apache.kafka.clients.consumer.CooperativeStickyAssignor"}, "Range, RoundRobin, Sticky or CooperativeSticky assignors."},

	"security.protocol":                                 {connect.TypeString, "PLAINTEXT", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (any case)."},
	"ssl.protocol":                                      {connect.TypeString, "TLSv1.3", "Highest TLS version: TLS, TLSv1.2 or TLSv1.3."},
	"ssl.enabled.protocols":                             {connect.TypeList, []string{"TLSv1.2", "TLSv1.3"}, "TLS versions offered."},
	"ssl.endpoint.identification.algorithm":             {connect.TypeString, "https", "https checks the broker's host name; empty checks only the certificate chain."},
	"ssl.truststore.type":                               {connect.TypeString, "JKS", "JKS, PKCS12 or PEM (JKS and PKCS12 files are recognised either way)."},
	"ssl.truststore.location":                           {connect.TypeString, nil, "Trust store file; unset trusts the system's CAs."},
	"ssl.truststore.password":                           {connect.TypePassword, nil, "Trust store password (not for PEM)."},
	"ssl.truststore.certificates":                       {connect.TypePassword, nil, "Trusted certificates as inline PEM (type PEM)."},
	"ssl.keystore.type":                                 {connect.TypeString, "JKS", "JKS, PKCS12 or PEM."},
	"ssl.keystore.location":                             {connect.TypeString, nil, "Key store with the client certificate (mTLS); for PEM the file holds the PKCS#8 key and the chain."},
	"ssl.keystore.password":                             {connect.TypePassword, nil, "Key store password (not for PEM)."},
	"ssl.key.password":                                  {connect.TypePassword, nil, "Password of the key entry (JKS, PKCS12), or of an encrypted PKCS#8 PEM key."},
	"ssl.keystore.key":                                  {connect.TypePassword, nil, "Client private key as inline PKCS#8 PEM (type PEM)."},
	"ssl.keystore.certificate.chain":                    {connect.TypePassword, nil, "Client certificate chain as inline PEM (type PEM)."},
	"ssl.cipher.suites":                                 {connect.TypeList, nil, "TLS 1.2 cipher suites by IANA name (TLS 1.3 suites are always offered)."},
	"ssl.keymanager.algorithm":                          {connect.TypeString, "SunX509", "Accepted: SunX509, NewSunX509, PKIX."},
	"ssl.trustmanager.algorithm":                        {connect.TypeString, "PKIX", "Accepted: PKIX, SunX509, SunPKIX."},
	"ssl.secure.random.implementation":                  {connect.TypeString, nil, "Accepted; Go draws from the operating system's CSPRNG."},
	"ssl.provider":                                      {connect.TypeString, nil, "Must be unset."},
	"ssl.engine.factory.class":                          {connect.TypeClass, nil, "Must be unset or DefaultSslEngineFactory."},
	"ssl.client.auth":                                   {connect.TypeString, "none", "A server setting (the REST server's at worker level); ignored by clients."},
	"sasl.mechanism":                                    {connect.TypeString, "GSSAPI", "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER or AWS_MSK_IAM (credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN); GSSAPI and others are refused."},
	"sasl.jaas.config":                                  {connect.TypePassword, nil, "One login module in Apache's JAAS syntax: PlainLoginModule or ScramLoginModule with username and password (tokenauth for delegation tokens), or OAuthBearerLoginModule."},
	"sasl.client.callback.handler.class":                {connect.TypeClass, nil, "Unset, or IAMClientCallbackHandler with AWS_MSK_IAM."},
	"sasl.login.callback.handler.class":                 {connect.TypeClass, nil, "Unset, or OAuthBearerLoginCallbackHandler for tokens from sasl.oauthbearer.token.endpoint.url."},
	"sasl.oauthbearer.token.endpoint.url":               {connect.TypeString, nil, "OAuth token endpoint (client credentials grant), or a file:// URL of a token."},
	"sasl.oauthbearer.client.credentials.client.id":     {connect.TypeString, nil, "OAuth client id (or the clientId JAAS option)."},
	"sasl.oauthbearer.client.credentials.client.secret": {connect.TypePassword, nil, "OAuth client secret (or the clientSecret JAAS option)."},
	"sasl.oauthbearer.scope":                            {connect.TypeString, nil, "OAuth scope (or the scope JAAS option)."},
	"sasl.login.connect.timeout.ms":                     {connect.TypeInt, nil, "Connect timeout of token requests (default 10 s)."},
	"sasl.login.read.timeout.ms":                        {connect.TypeInt, nil, "Read timeout of token requests (default 10 s)."},
}

// Def returns the definitions of the client properties Ferry implements
// for a kind of client, with their Apache types and defaults, the security
// ones included. Properties Ferry accepts without acting on them are left
// out (see Unimplemented); Build warns about them.
func Def(kind Kind) *connect.ConfigDef {
	d := connect.NewConfigDef()
	for _, name := range slices.Sorted(maps.Keys(keyDocs)) {
		kd := keyDocs[name]
		if p, ok := clientProps[name]; ok {
			if !p.kinds.has(kind) {
				continue
			}
		} else if _, sec := securityKeys[name]; !sec {
			continue
		}
		d.Define(connect.ConfigKey{Name: name, Type: kd.typ, Default: kd.def, Importance: connect.Medium, Doc: kd.doc})
	}
	return d
}

// Unimplemented lists the Java client properties of a kind Ferry accepts
// but does not act on (a warning names each one set).
func Unimplemented(kind Kind) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(clientProps)) {
		if p := clientProps[name]; p.kinds.has(kind) && p.apply == nil {
			if _, documented := keyDocs[name]; !documented {
				out = append(out, name)
			}
		}
	}
	return out
}

// IsSecurityKey reports whether a client property is security relevant:
// one Ferry cannot honour is an error, never ignored.
func IsSecurityKey(name string) bool { return isSecurityKey(name) }
