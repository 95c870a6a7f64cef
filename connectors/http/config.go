// Package httpsink is the HTTP sink connector. One implementation answers
// to two Java class names with their own configuration keys:
//
//   - Aiven's io.aiven.kafka.connect.http.HttpSinkConnector (http.url,
//     http.authorization.type none/static/oauth2, batching.enabled, …):
//     every request is a POST; a batch is batch.prefix + values joined by
//     batch.separator + batch.suffix; String values go as they are, Struct
//     and Map values as schemaless JSON.
//   - Confluent's io.confluent.connect.http.HttpSinkConnector (http.api.url
//     with ${topic} and ${key}, request.method, request.body.format,
//     batch.json.as.array, auth.type none/basic/oauth2, behavior.on.error,
//     retry.on.status.codes and the result and error reporter topics).
//
// Records are sent synchronously in Put, so offsets are committed only for
// records the server accepted (at-least-once). Within one Put a failed
// request is retried max.retries times, waiting retry.backoff.ms or the
// server's Retry-After, whichever is longer.
//
// What happens after the retries, for both flavours:
//   - A connection error, a timeout, or an answer of 429, 502, 503 or 504
//     means the server is unavailable, not that the records are bad: Put
//     returns connect.Retriable and the runtime redelivers the batch later
//     (kafka.retry.backoff.ms, or retry.backoff.ms). Requests of the batch
//     that had already succeeded are not sent again. The Java connectors
//     fail the task instead; Ferry keeps the task running and loses nothing.
//   - Any other error status fails the records: they go to the errant
//     record reporter (dead letter queue under errors.tolerance=all) when
//     the runtime offers one, are skipped under Confluent's
//     behavior.on.error=log/ignore, and fail the task otherwise.
//
// Other differences from the Java connectors:
//   - Aiven: http.authorization.type has no apikey value (Aiven's connector
//     has none either); send an API key with http.headers.additional.
//     http.ssl.truststore.location must be a PEM file, not a Java key store.
//     An OAuth2 token is also renewed shortly before the expires_in of the
//     token response, not only after a refusal.
//   - Confluent: only ${topic} and ${key} URL templates (no record fields);
//     no THIRD_PARTY authentication, JWT assertions, TLS client settings,
//     proxy, regex replacements, or reporter client settings other than
//     PLAINTEXT bootstrap servers; those keys are refused. Reporter keys and
//     values are written as strings. With request.body.format=json the
//     Content-Type is application/json unless headers sets one, and a string
//     value that already is JSON is sent as it is. A batch key pattern or a
//     templated URL splits batches, and batches go out in the order their
//     first record arrived.
package httpsink

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/connect"
)

// Class names and versions.
const (
	AivenClass         = "io.aiven.kafka.connect.http.HttpSinkConnector"
	AivenTaskClass     = "io.aiven.kafka.connect.http.HttpSinkTask"
	AivenVersion       = "0.9.0"
	ConfluentClass     = "io.confluent.connect.http.HttpSinkConnector"
	ConfluentTaskClass = "io.confluent.connect.http.HttpSinkTask"
	ConfluentVersion   = "1.7.6"
)

// AivenPlugin describes the connector under Aiven's class name and keys.
func AivenPlugin() connect.Plugin {
	return connect.Plugin{
		Kind:      connect.KindSink,
		Class:     AivenClass,
		Version:   AivenVersion,
		TaskClass: AivenTaskClass,
		Config:    AivenConfigDef,
		New:       func() any { return &Connector{flavour: aiven} },
		Doc:       "Sends record values to an HTTP endpoint with POST, one request per record or in batches (Aiven's keys).",
	}
}

// ConfluentPlugin describes the connector under Confluent's class name and keys.
func ConfluentPlugin() connect.Plugin {
	return connect.Plugin{
		Kind:      connect.KindSink,
		Class:     ConfluentClass,
		Version:   ConfluentVersion,
		TaskClass: ConfluentTaskClass,
		Config:    ConfluentConfigDef,
		New:       func() any { return &Connector{flavour: confluent} },
		Doc:       "Sends record values to an HTTP endpoint whose URL may name the topic and key, as strings or JSON, with result and error reporter topics (Confluent's keys).",
	}
}

type flavour int

const (
	aiven flavour = iota
	confluent
)

// Aiven keys.
const (
	HTTPURL                = "http.url"
	HTTPProxyHost          = "http.proxy.host"
	HTTPProxyPort          = "http.proxy.port"
	HTTPSSLTrustAll        = "http.ssl.trust.all.certs"
	HTTPSSLTruststore      = "http.ssl.truststore.location"
	HTTPSSLTruststorePass  = "http.ssl.truststore.password"
	HTTPAuthorizationType  = "http.authorization.type"
	HTTPHeadersAuth        = "http.headers.authorization"
	HTTPHeadersContentType = "http.headers.content.type"
	HTTPHeadersAdditional  = "http.headers.additional"
	OAuth2AccessTokenURL   = "oauth2.access.token.url"
	OAuth2GrantTypeProp    = "oauth2.request.grant.type.property"
	OAuth2GrantType        = "oauth2.grant.type"
	OAuth2ClientIDProp     = "oauth2.request.client.id.property"
	OAuth2ClientID         = "oauth2.client.id"
	OAuth2ClientSecretProp = "oauth2.request.client.secret.property"
	OAuth2ClientSecret     = "oauth2.client.secret"
	OAuth2ClientAuthMode   = "oauth2.client.authorization.mode"
	OAuth2ClientScope      = "oauth2.client.scope"
	OAuth2ResponseTokenKey = "oauth2.response.token.property"
	OAuth2RenewOnStatus    = "oauth2.token.renew.on.status.codes"
	BatchingEnabled        = "batching.enabled"
	BatchMaxSize           = "batch.max.size"
	BatchPrefix            = "batch.prefix"
	BatchSuffix            = "batch.suffix"
	BatchSeparator         = "batch.separator"
	KafkaRetryBackoff      = "kafka.retry.backoff.ms"
	MaxRetries             = "max.retries"
	RetryBackoff           = "retry.backoff.ms"
	HTTPTimeout            = "http.timeout"
	ErrorsTolerance        = "errors.tolerance"
	DecimalFormat          = "decimal.format"
)

// Confluent keys (those not shared with Aiven above).
const (
	HTTPAPIURL            = "http.api.url"
	RequestMethod         = "request.method"
	Headers               = "headers"
	HeaderSeparator       = "header.separator"
	RequestBodyFormat     = "request.body.format"
	BatchJSONAsArray      = "batch.json.as.array"
	BatchKeyPattern       = "batch.key.pattern"
	AuthType              = "auth.type"
	ConnectionUser        = "connection.user"
	ConnectionPassword    = "connection.password"
	OAuth2TokenURL        = "oauth2.token.url"
	OAuth2TokenProperty   = "oauth2.token.property"
	OAuth2ClientAuthModeC = "oauth2.client.auth.mode"
	OAuth2ClientHeaders   = "oauth2.client.headers"
	RetryOnStatusCodes    = "retry.on.status.codes"
	RetryBackoffPolicy    = "retry.backoff.policy"
	ConnectTimeout        = "http.connect.timeout.ms"
	RequestTimeout        = "http.request.timeout.ms"
	BehaviorOnNullValues  = "behavior.on.null.values"
	BehaviorOnError       = "behavior.on.error"
	ReportErrorsAs        = "report.errors.as"
	ReporterBootstrap     = "reporter.bootstrap.servers"
	ReporterResultTopic   = "reporter.result.topic.name"
	ReporterResultRF      = "reporter.result.topic.replication.factor"
	ReporterResultParts   = "reporter.result.topic.partitions"
	ReporterErrorTopic    = "reporter.error.topic.name"
	ReporterErrorRF       = "reporter.error.topic.replication.factor"
	ReporterErrorParts    = "reporter.error.topic.partitions"
	ReporterSecurityProto = "reporter.security.protocol"
	ReporterResultKeyFmt  = "reporter.result.topic.key.format"
	ReporterResultValFmt  = "reporter.result.topic.value.format"
	ReporterErrorKeyFmt   = "reporter.error.topic.key.format"
	ReporterErrorValFmt   = "reporter.error.topic.value.format"
)

const (
	groupConnection = "Connection"
	groupBatching   = "Batching"
	groupDelivery   = "Delivery"
	groupTimeout    = "Timeout"
	groupErrors     = "Errors Handling"
	groupFormat     = "Format"
	groupAuth       = "Authentication"
	groupRetries    = "Retries"
	groupReporter   = "Reporter"
)

func urlValidator(optional bool) connect.Validator {
	return connect.ValidatorFunc("HTTP(S) URL", func(v any) error {
		s, _ := v.(string)
		if v == nil && optional {
			return nil
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("should be valid URL")
		}
		return nil
	})
}

func headerListValidator() connect.Validator {
	return connect.ValidatorFunc("Key value pair string list with format header:value", func(v any) error {
		l, _ := v.([]string)
		seen := map[string]bool{}
		for _, h := range l {
			name, _, ok := strings.Cut(h, ":")
			if !ok || strings.TrimSpace(name) == "" {
				return fmt.Errorf("Invalid format: %s, expected header:value", h)
			}
			k := strings.ToLower(strings.TrimSpace(name))
			if seen[k] {
				return fmt.Errorf("Duplicate keys are not allowed (case-insensitive): %s", name)
			}
			seen[k] = true
		}
		return nil
	})
}

func statusListValidator() connect.Validator {
	return connect.ValidatorFunc("List of HTTP status codes", func(v any) error {
		for _, s := range v.([]string) {
			if _, err := strconv.Atoi(s); err != nil {
				return fmt.Errorf("must be a list of numbers")
			}
		}
		return nil
	})
}

// AivenConfigDef declares Aiven's keys with Aiven's defaults.
func AivenConfigDef() *connect.ConfigDef {
	d := connect.NewConfigDef()
	o := 0
	next := func() int { o++; return o - 1 }
	def := func(k connect.ConfigKey) {
		k.OrderInGroup = next()
		if k.DisplayName == "" {
			k.DisplayName = k.Name
		}
		d.Define(k)
	}
	def(connect.ConfigKey{Name: HTTPURL, Type: connect.TypeString, Default: connect.NoDefault, Validator: urlValidator(false), Importance: connect.High, Group: groupConnection, Width: connect.WidthLong,
		Doc: "The URL to send data to. Every request is a POST."})
	def(connect.ConfigKey{Name: HTTPProxyHost, Type: connect.TypeString, Default: nil, Importance: connect.Low, Group: groupConnection, Width: connect.WidthLong, Doc: "Proxy hostname."})
	def(connect.ConfigKey{Name: HTTPProxyPort, Type: connect.TypeInt, Default: -1, Validator: connect.Between(-1, 65535), Importance: connect.Low, Group: groupConnection, Width: connect.WidthShort, Doc: "Proxy port; set together with http.proxy.host."})
	def(connect.ConfigKey{Name: HTTPSSLTrustAll, Type: connect.TypeBoolean, Default: false, Importance: connect.Low, Group: groupConnection, Width: connect.WidthShort, Doc: "Accept any server certificate. Not recommended for production."})
	def(connect.ConfigKey{Name: HTTPSSLTruststore, Type: connect.TypeString, Default: nil, Importance: connect.Low, Group: groupConnection, Width: connect.WidthLong, Doc: "Path to a PEM file of CA certificates to trust (Java key stores are not supported)."})
	def(connect.ConfigKey{Name: HTTPSSLTruststorePass, Type: connect.TypePassword, Default: nil, Importance: connect.Low, Group: groupConnection, Width: connect.WidthMedium, Doc: "Password of the trust store; not needed for PEM files."})
	def(connect.ConfigKey{Name: HTTPAuthorizationType, Type: connect.TypeString, Default: connect.NoDefault, Validator: connect.OneOf("none", "static", "oauth2"), Importance: connect.High, Group: groupConnection, Width: connect.WidthShort,
		Dependents: []string{HTTPHeadersAuth}, Recommended: []string{"none", "static", "oauth2"},
		Doc: "The HTTP authorization type: none; static (http.headers.authorization sent as the Authorization header); oauth2 (client-credentials token from oauth2.access.token.url)."})
	def(connect.ConfigKey{Name: HTTPHeadersAuth, Type: connect.TypePassword, Default: nil, Importance: connect.Medium, Group: groupConnection, Width: connect.WidthMedium,
		Doc: "The static content of the Authorization header, sent verbatim. Must be set with the static authorization type, and only then."})
	def(connect.ConfigKey{Name: HTTPHeadersContentType, Type: connect.TypeString, Default: nil, Importance: connect.Low, Group: groupConnection, Width: connect.WidthMedium,
		Validator: connect.ValidatorFunc("non-blank string", func(v any) error {
			if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
				return fmt.Errorf("must not be blank")
			}
			return nil
		}),
		Doc: "The Content-Type header sent with each request; none when unset."})
	def(connect.ConfigKey{Name: HTTPHeadersAdditional, Type: connect.TypeList, Default: []string{}, Validator: headerListValidator(), Importance: connect.Low, Group: groupConnection, Width: connect.WidthMedium,
		Doc: "Additional headers as header:value, separated by commas. Header names are case-insensitive and must not repeat."})
	def(connect.ConfigKey{Name: OAuth2AccessTokenURL, Type: connect.TypeString, Default: nil, Validator: urlValidator(true), Importance: connect.High, Group: groupConnection, Width: connect.WidthLong,
		Doc: "The URL from which an access token is fetched (client-credentials grant)."})
	def(connect.ConfigKey{Name: OAuth2GrantTypeProp, Type: connect.TypeString, Default: "grant_type", Validator: connect.NonEmptyString(), Importance: connect.High, Group: groupConnection, Width: connect.WidthLong, Doc: "The form field naming the grant type in the token request."})
	def(connect.ConfigKey{Name: OAuth2GrantType, Type: connect.TypeString, Default: "client_credentials", Validator: connect.NonEmptyString(), Importance: connect.High, Group: groupConnection, Width: connect.WidthLong, Doc: "The grant type sent in the token request."})
	def(connect.ConfigKey{Name: OAuth2ClientIDProp, Type: connect.TypeString, Default: "client_id", Validator: connect.NonEmptyString(), Importance: connect.High, Group: groupConnection, Width: connect.WidthLong, Doc: "The form field naming the client id (url mode)."})
	def(connect.ConfigKey{Name: OAuth2ClientID, Type: connect.TypeString, Default: nil, Importance: connect.High, Group: groupConnection, Width: connect.WidthLong, Doc: "The client id used to fetch an access token."})
	def(connect.ConfigKey{Name: OAuth2ClientSecretProp, Type: connect.TypeString, Default: "client_secret", Importance: connect.High, Group: groupConnection, Width: connect.WidthLong, Doc: "The form field naming the client secret (url mode)."})
	def(connect.ConfigKey{Name: OAuth2ClientSecret, Type: connect.TypePassword, Default: nil, Importance: connect.High, Group: groupConnection, Width: connect.WidthLong, Doc: "The client secret used to fetch an access token."})
	def(connect.ConfigKey{Name: OAuth2ClientAuthMode, Type: connect.TypeString, Default: "HEADER", Validator: connect.OneOfIgnoreCase("HEADER", "URL"), Importance: connect.Medium, Group: groupConnection, Width: connect.WidthLong,
		Doc: "How the client id and secret go to the token endpoint: header (Authorization: Basic base64(id:secret)) or url (form fields)."})
	def(connect.ConfigKey{Name: OAuth2ClientScope, Type: connect.TypeString, Default: nil, Importance: connect.Low, Group: groupConnection, Width: connect.WidthLong, Doc: "The scope sent in the token request; none when unset."})
	def(connect.ConfigKey{Name: OAuth2ResponseTokenKey, Type: connect.TypeString, Default: "access_token", Validator: connect.NonEmptyString(), Importance: connect.Low, Group: groupConnection, Width: connect.WidthLong,
		Doc: "The JSON property of the token response holding the access token. The Authorization header is the response's token_type (default Bearer), a space and the token."})
	def(connect.ConfigKey{Name: OAuth2RenewOnStatus, Type: connect.TypeList, Default: []string{"401"}, Validator: statusListValidator(), Importance: connect.Low, Group: groupConnection, Width: connect.WidthLong,
		Doc: "Response status codes that make the connector fetch a new access token and send the request again (once)."})

	o = 0
	def(connect.ConfigKey{Name: BatchingEnabled, Type: connect.TypeBoolean, Default: false, Importance: connect.High, Group: groupBatching, Width: connect.WidthShort, Doc: "Send several records in one request; otherwise one request per record."})
	def(connect.ConfigKey{Name: BatchMaxSize, Type: connect.TypeInt, Default: 500, Validator: connect.Between(1, 1_000_000), Importance: connect.Medium, Group: groupBatching, Width: connect.WidthMedium, Doc: "The most records in one request. A batch never spans two deliveries from the runtime."})
	def(connect.ConfigKey{Name: BatchPrefix, Type: connect.TypeString, Default: "", Importance: connect.High, Group: groupBatching, Width: connect.WidthMedium, Doc: "Written once before the first record of a batch, untrimmed."})
	def(connect.ConfigKey{Name: BatchSuffix, Type: connect.TypeString, Default: nil, Importance: connect.High, Group: groupBatching, Width: connect.WidthMedium, Doc: "Written once after the last record of a batch, untrimmed. Unset means a newline."})
	def(connect.ConfigKey{Name: BatchSeparator, Type: connect.TypeString, Default: nil, Importance: connect.High, Group: groupBatching, Width: connect.WidthMedium, Doc: "Written between the records of a batch, untrimmed. Unset means a newline."})

	o = 0
	def(connect.ConfigKey{Name: KafkaRetryBackoff, Type: connect.TypeLong, Default: nil, Importance: connect.Medium, Group: groupDelivery,
		Validator: connect.ValidatorFunc("null,[0, 86400000]", func(v any) error {
			if n, ok := v.(int64); ok && (n < 0 || n > 86_400_000) {
				if n < 0 {
					return fmt.Errorf("Value must be at least 0")
				}
				return fmt.Errorf("Value must be no more than 86400000 (24 hours)")
			}
			return nil
		}),
		Doc: "How long the runtime waits before redelivering a batch the server could not take (server unreachable, 429, 502, 503, 504 after the retries). Unset means retry.backoff.ms."})
	def(connect.ConfigKey{Name: MaxRetries, Type: connect.TypeInt, Default: 1, Validator: connect.AtLeast(0), Importance: connect.Medium, Group: groupDelivery, Width: connect.WidthShort,
		Doc: "How many times a failed request (connection error or status 400 or more) is sent again before the records are given up on."})
	def(connect.ConfigKey{Name: RetryBackoff, Type: connect.TypeInt, Default: 3000, Validator: connect.AtLeast(0), Importance: connect.Medium, Group: groupDelivery, Width: connect.WidthShort,
		Doc: "Wait before a retry, in milliseconds; a longer Retry-After from the server wins (capped at 5 minutes)."})

	o = 0
	def(connect.ConfigKey{Name: HTTPTimeout, Type: connect.TypeInt, Default: 30, Validator: connect.AtLeast(1), Importance: connect.Low, Group: groupTimeout, Width: connect.WidthShort, Doc: "HTTP response timeout, in seconds."})
	o = 0
	def(connect.ConfigKey{Name: ErrorsTolerance, Type: connect.TypeString, Default: nil, Importance: connect.Low, Group: groupErrors, Width: connect.WidthShort,
		Doc: "The framework's errors.tolerance, read here to refuse errors.tolerance=all together with batching.enabled=true."})
	o = 0
	def(connect.ConfigKey{Name: DecimalFormat, Type: connect.TypeString, Default: "BASE64", Validator: connect.OneOfIgnoreCase("BASE64", "NUMERIC"), Importance: connect.Low, Group: groupFormat, Width: connect.WidthMedium,
		Doc: "How Decimal values are written in JSON bodies: BASE64 or NUMERIC."})
	return d
}

// ConfluentConfigDef declares Confluent's keys with Confluent's defaults.
func ConfluentConfigDef() *connect.ConfigDef {
	d := connect.NewConfigDef()
	o := 0
	def := func(k connect.ConfigKey) {
		k.OrderInGroup = o
		o++
		d.Define(k)
	}
	def(connect.ConfigKey{Name: HTTPAPIURL, Type: connect.TypeString, Default: connect.NoDefault, Validator: connect.NonEmptyString(), Importance: connect.High, Group: groupConnection, Width: connect.WidthLong,
		Doc: "The HTTP API URL. ${topic} and ${key} are replaced by the record's topic and key (URL-escaped); records bound for different URLs go in different requests."})
	def(connect.ConfigKey{Name: RequestMethod, Type: connect.TypeString, Default: "POST", Validator: connect.OneOfIgnoreCase("POST", "PUT", "PATCH"), Importance: connect.High, Group: groupConnection, Width: connect.WidthShort,
		Doc: "The HTTP request method: POST, PUT or PATCH."})
	def(connect.ConfigKey{Name: Headers, Type: connect.TypeString, Default: "", Importance: connect.High, Group: groupConnection, Width: connect.WidthLong,
		Doc: "Headers sent with every request, as Name:value separated by header.separator."})
	def(connect.ConfigKey{Name: HeaderSeparator, Type: connect.TypeString, Default: "|", Importance: connect.High, Group: groupConnection, Width: connect.WidthShort, Doc: "Separator of the entries in headers."})
	def(connect.ConfigKey{Name: BehaviorOnNullValues, Type: connect.TypeString, Default: "ignore", Validator: connect.OneOfIgnoreCase("ignore", "delete", "log", "fail"), Importance: connect.Low, Group: groupConnection, Width: connect.WidthShort,
		Doc: "Records with a null value: ignore (skip), delete (a DELETE request to the record's URL), log (log the coordinates and skip), fail (handled per behavior.on.error)."})
	def(connect.ConfigKey{Name: BehaviorOnError, Type: connect.TypeString, Default: "fail", Validator: connect.OneOfIgnoreCase("fail", "ignore", "log"), Importance: connect.Low, Group: groupConnection, Width: connect.WidthShort,
		Doc: "Records the server refused after the retries: fail (to the dead letter queue under errors.tolerance=all, else the task fails), ignore (skip), log (log and skip)."})
	def(connect.ConfigKey{Name: ReportErrorsAs, Type: connect.TypeString, Default: "error_string", Validator: connect.OneOfIgnoreCase("error_string", "http_response"), Importance: connect.Low, Group: groupConnection, Width: connect.WidthShort,
		Doc: "Value of error reporter records: error_string (a description of the failure) or http_response (the response body)."})

	o = 0
	def(connect.ConfigKey{Name: AuthType, Type: connect.TypeString, Default: "NONE", Validator: connect.OneOfIgnoreCase("NONE", "BASIC", "OAUTH2"), Importance: connect.High, Group: groupAuth, Width: connect.WidthShort,
		Doc: "NONE, BASIC (connection.user and connection.password) or OAUTH2 (client-credentials token from oauth2.token.url). THIRD_PARTY is not supported."})
	def(connect.ConfigKey{Name: ConnectionUser, Type: connect.TypeString, Default: nil, Importance: connect.High, Group: groupAuth, Width: connect.WidthMedium, Doc: "User name for BASIC authentication."})
	def(connect.ConfigKey{Name: ConnectionPassword, Type: connect.TypePassword, Default: nil, Importance: connect.High, Group: groupAuth, Width: connect.WidthMedium, Doc: "Password for BASIC authentication."})
	def(connect.ConfigKey{Name: OAuth2TokenURL, Type: connect.TypeString, Default: nil, Validator: urlValidator(true), Importance: connect.High, Group: groupAuth, Width: connect.WidthLong, Doc: "The token endpoint for OAUTH2 (client-credentials grant)."})
	def(connect.ConfigKey{Name: OAuth2ClientID, Type: connect.TypeString, Default: nil, Importance: connect.High, Group: groupAuth, Width: connect.WidthMedium, Doc: "The OAuth2 client id."})
	def(connect.ConfigKey{Name: OAuth2ClientSecret, Type: connect.TypePassword, Default: nil, Importance: connect.High, Group: groupAuth, Width: connect.WidthMedium, Doc: "The OAuth2 client secret."})
	def(connect.ConfigKey{Name: OAuth2TokenProperty, Type: connect.TypeString, Default: "access_token", Importance: connect.Low, Group: groupAuth, Width: connect.WidthMedium, Doc: "The JSON property of the token response holding the access token, sent as Authorization: Bearer <token>."})
	def(connect.ConfigKey{Name: OAuth2ClientAuthModeC, Type: connect.TypeString, Default: "header", Validator: connect.OneOfIgnoreCase("header", "url"), Importance: connect.Low, Group: groupAuth, Width: connect.WidthShort,
		Doc: "How the client id and secret go to the token endpoint: header (Basic authentication) or url (form fields)."})
	def(connect.ConfigKey{Name: OAuth2ClientScope, Type: connect.TypeString, Default: "any", Importance: connect.Low, Group: groupAuth, Width: connect.WidthMedium, Doc: "The scope sent in the token request."})
	def(connect.ConfigKey{Name: OAuth2ClientHeaders, Type: connect.TypePassword, Default: "", Importance: connect.Low, Group: groupAuth, Width: connect.WidthLong, Doc: "Extra headers of the token request, as Name:value separated by header.separator."})

	o = 0
	def(connect.ConfigKey{Name: RequestBodyFormat, Type: connect.TypeString, Default: "string", Validator: connect.OneOfIgnoreCase("string", "json"), Importance: connect.Medium, Group: groupBatching, Width: connect.WidthShort,
		Doc: "string: each value as its string form (a Struct as Struct{...}); json: each value as schemaless JSON (a string value that already is JSON is sent as it is)."})
	def(connect.ConfigKey{Name: BatchMaxSize, Type: connect.TypeInt, Default: 1, Validator: connect.Between(1, 1_000_000), Importance: connect.High, Group: groupBatching, Width: connect.WidthShort, Doc: "The most records in one request."})
	def(connect.ConfigKey{Name: BatchJSONAsArray, Type: connect.TypeBoolean, Default: false, Importance: connect.High, Group: groupBatching, Width: connect.WidthShort,
		Doc: "With request.body.format=json, send a batch as a JSON array [v1,v2,...] instead of prefix + values joined by batch.separator + suffix."})
	def(connect.ConfigKey{Name: BatchKeyPattern, Type: connect.TypeString, Default: "someKey", Importance: connect.High, Group: groupBatching, Width: connect.WidthMedium, Doc: "Records are batched together only when this pattern (with ${topic} and ${key}) gives the same string."})
	def(connect.ConfigKey{Name: BatchPrefix, Type: connect.TypeString, Default: "", Importance: connect.High, Group: groupBatching, Width: connect.WidthMedium, Doc: "Written once before the records of a batch, untrimmed."})
	def(connect.ConfigKey{Name: BatchSuffix, Type: connect.TypeString, Default: "", Importance: connect.High, Group: groupBatching, Width: connect.WidthMedium, Doc: "Written once after the records of a batch, untrimmed."})
	def(connect.ConfigKey{Name: BatchSeparator, Type: connect.TypeString, Default: ",", Importance: connect.High, Group: groupBatching, Width: connect.WidthShort, Doc: "Written between the records of a batch, untrimmed."})

	o = 0
	def(connect.ConfigKey{Name: MaxRetries, Type: connect.TypeInt, Default: 10, Validator: connect.AtLeast(0), Importance: connect.Medium, Group: groupRetries, Width: connect.WidthShort, Doc: "How many times a failed request is sent again."})
	def(connect.ConfigKey{Name: RetryBackoff, Type: connect.TypeInt, Default: 3000, Validator: connect.AtLeast(0), Importance: connect.Medium, Group: groupRetries, Width: connect.WidthShort,
		Doc: "The first wait before a retry, in milliseconds; a longer Retry-After from the server wins (capped at 5 minutes)."})
	def(connect.ConfigKey{Name: RetryBackoffPolicy, Type: connect.TypeString, Default: "EXPONENTIAL_WITH_JITTER", Validator: connect.OneOfIgnoreCase("CONSTANT_VALUE", "EXPONENTIAL_WITH_JITTER"), Importance: connect.Low, Group: groupRetries, Width: connect.WidthMedium,
		Doc: "CONSTANT_VALUE waits retry.backoff.ms each time; EXPONENTIAL_WITH_JITTER doubles it per attempt (up to 5 minutes) with random jitter."})
	def(connect.ConfigKey{Name: RetryOnStatusCodes, Type: connect.TypeString, Default: "400-", Validator: connect.ValidatorFunc("status codes and ranges: 500-, 400-500, 408,429,500", func(v any) error {
		_, err := parseStatusRanges(v.(string))
		return err
	}), Importance: connect.Medium, Group: groupRetries, Width: connect.WidthMedium,
		Doc: "Response statuses that are retried, as codes and ranges separated by commas: 500- (500 and above), 400-500, 408,429,500."})

	o = 0
	def(connect.ConfigKey{Name: ConnectTimeout, Type: connect.TypeInt, Default: 30000, Validator: connect.AtLeast(1), Importance: connect.Low, Group: groupTimeout, Width: connect.WidthShort, Doc: "Connection timeout, in milliseconds."})
	def(connect.ConfigKey{Name: RequestTimeout, Type: connect.TypeInt, Default: 30000, Validator: connect.AtLeast(1), Importance: connect.Low, Group: groupTimeout, Width: connect.WidthShort, Doc: "Response timeout of one request, in milliseconds."})

	o = 0
	def(connect.ConfigKey{Name: ReporterBootstrap, Type: connect.TypeString, Default: "", Importance: connect.Medium, Group: groupReporter, Width: connect.WidthLong, Doc: "Brokers of the reporter topics (PLAINTEXT)."})
	def(connect.ConfigKey{Name: ReporterResultTopic, Type: connect.TypeString, Default: "", Importance: connect.Medium, Group: groupReporter, Width: connect.WidthLong,
		Doc: "Topic receiving one record per record the server accepted: the response body, with input_record_* headers. Empty disables it."})
	def(connect.ConfigKey{Name: ReporterResultRF, Type: connect.TypeShort, Default: int16(3), Importance: connect.Low, Group: groupReporter, Width: connect.WidthShort, Doc: "Replication factor of the result topic when it is created."})
	def(connect.ConfigKey{Name: ReporterResultParts, Type: connect.TypeInt, Default: 1, Validator: connect.AtLeast(1), Importance: connect.Low, Group: groupReporter, Width: connect.WidthShort, Doc: "Partitions of the result topic when it is created."})
	def(connect.ConfigKey{Name: ReporterErrorTopic, Type: connect.TypeString, Default: "", Importance: connect.Medium, Group: groupReporter, Width: connect.WidthLong,
		Doc: "Topic receiving one record per record the server refused: the error, with input_record_* and error headers. Empty disables it."})
	def(connect.ConfigKey{Name: ReporterErrorRF, Type: connect.TypeShort, Default: int16(3), Importance: connect.Low, Group: groupReporter, Width: connect.WidthShort, Doc: "Replication factor of the error topic when it is created."})
	def(connect.ConfigKey{Name: ReporterErrorParts, Type: connect.TypeInt, Default: 1, Validator: connect.AtLeast(1), Importance: connect.Low, Group: groupReporter, Width: connect.WidthShort, Doc: "Partitions of the error topic when it is created."})
	for _, k := range []string{ReporterResultKeyFmt, ReporterResultValFmt, ReporterErrorKeyFmt, ReporterErrorValFmt} {
		def(connect.ConfigKey{Name: k, Type: connect.TypeString, Default: "string", Validator: connect.OneOfIgnoreCase("string"), Importance: connect.Low, Group: groupReporter, Width: connect.WidthShort,
			Doc: "Format of reporter record keys or values; only string (UTF-8 text) is supported."})
	}
	def(connect.ConfigKey{Name: ReporterSecurityProto, Type: connect.TypeString, Default: "PLAINTEXT", Validator: connect.OneOfIgnoreCase("PLAINTEXT"), Importance: connect.Low, Group: groupReporter, Width: connect.WidthShort, Doc: "Only PLAINTEXT is supported."})
	o = 0
	def(connect.ConfigKey{Name: DecimalFormat, Type: connect.TypeString, Default: "BASE64", Validator: connect.OneOfIgnoreCase("BASE64", "NUMERIC"), Importance: connect.Low, Group: groupFormat, Width: connect.WidthMedium,
		Doc: "How Decimal values are written in JSON bodies: BASE64 or NUMERIC."})
	return d
}

// statusRange is an inclusive range of HTTP status codes.
type statusRange struct{ lo, hi int }

type statusSet []statusRange

func (s statusSet) has(code int) bool {
	for _, r := range s {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}

// parseStatusRanges reads Confluent's retry.on.status.codes syntax.
func parseStatusRanges(s string) (statusSet, error) {
	var out statusSet
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("%q is not a status code or range", part)
		}
		b := a
		if isRange {
			b = 999
			if hs := strings.TrimSpace(hi); hs != "" {
				if b, err = strconv.Atoi(hs); err != nil || b < a {
					return nil, fmt.Errorf("%q is not a status code or range", part)
				}
			}
		}
		out = append(out, statusRange{a, b})
	}
	return out, nil
}

// header is one configured request header.
type header struct{ name, value string }

// parseHeaders splits Name:value entries on sep (a literal string).
func parseHeaders(s, sep string) ([]header, error) {
	var out []header
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for part := range strings.SplitSeq(s, sep) {
		if strings.TrimSpace(part) == "" {
			continue
		}
		name, value, ok := strings.Cut(part, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("header %q is not Name:value", part)
		}
		out = append(out, header{strings.TrimSpace(name), strings.TrimSpace(value)})
	}
	return out, nil
}

// Body formats.
type bodyFormat int

const (
	formatAiven  bodyFormat = iota // String as is, Struct/Map as JSON, else refused
	formatString                   // Java toString
	formatJSON                     // schemaless JSON
)

// settings is the parsed configuration of either flavour.
type settings struct {
	flavour flavour
	url     string // may hold ${topic} and ${key} (Confluent)
	method  string
	headers []header

	authType                   string // none, static, basic, oauth2
	staticAuth                 string
	user, password             string
	oauth                      oauthSettings
	format                     bodyFormat
	decimalNumeric             bool
	batchMax                   int
	batching                   bool // false: the value alone is the body
	prefix, suffix, separator  string
	jsonArray                  bool
	keyPattern                 string
	maxRetries                 int
	backoff                    time.Duration
	exponential                bool
	retryStatus                func(int) bool
	kafkaBackoff               time.Duration
	connectTimeout, reqTimeout time.Duration
	nullBehavior               string // fail, ignore, delete, log
	errorBehavior              string // fail, ignore, log
	errorsAsResponse           bool
	reporter                   reporterSettings
	batchingAllowsReporter     bool
	proxy                      string
	trustAll                   bool
	caFile                     string
}

type reporterSettings struct {
	bootstrap               string
	resultTopic, errorTopic string
	resultRF, errorRF       int16
	resultParts, errorParts int32
}

func configErr(name string, value any, msg string) error {
	return &connect.ConfigError{Name: name, Value: value, HasVal: true, Message: msg}
}

// rawOr returns the untrimmed original value of key, or def when absent:
// prefixes, suffixes and separators are often whitespace, which the
// ConfigDef's parse would trim away.
func rawOr(props map[string]string, key, def string) string {
	if v, ok := props[key]; ok {
		return v
	}
	return def
}

func parseSettings(f flavour, props map[string]string) (*settings, error) {
	if f == aiven {
		return parseAiven(props)
	}
	return parseConfluent(props)
}

func parseAiven(props map[string]string) (*settings, error) {
	cfg, err := AivenConfigDef().Parse(props)
	if err != nil {
		return nil, err
	}
	s := &settings{
		flavour:        aiven,
		url:            cfg.String(HTTPURL),
		method:         "POST",
		authType:       cfg.String(HTTPAuthorizationType),
		staticAuth:     cfg.Password(HTTPHeadersAuth).Value(),
		format:         formatAiven,
		decimalNumeric: strings.EqualFold(cfg.String(DecimalFormat), "NUMERIC"),
		batchMax:       1,
		maxRetries:     cfg.Int(MaxRetries),
		backoff:        time.Duration(cfg.Int(RetryBackoff)) * time.Millisecond,
		retryStatus:    func(code int) bool { return code >= 400 },
		connectTimeout: time.Duration(cfg.Int(HTTPTimeout)) * time.Second,
		reqTimeout:     time.Duration(cfg.Int(HTTPTimeout)) * time.Second,
		nullBehavior:   "fail",
		errorBehavior:  "fail",
		trustAll:       cfg.Bool(HTTPSSLTrustAll),
		caFile:         cfg.String(HTTPSSLTruststore),
	}
	s.kafkaBackoff = s.backoff
	if cfg.IsSet(KafkaRetryBackoff) {
		if v, ok := props[KafkaRetryBackoff]; ok && strings.TrimSpace(v) != "" {
			s.kafkaBackoff = time.Duration(cfg.Long(KafkaRetryBackoff)) * time.Millisecond
		}
	}
	if cfg.Bool(BatchingEnabled) {
		s.batching = true
		s.batchMax = cfg.Int(BatchMaxSize)
		s.prefix = rawOr(props, BatchPrefix, "")
		s.suffix = rawOr(props, BatchSuffix, "\n")
		s.separator = rawOr(props, BatchSeparator, "\n")
		if strings.EqualFold(cfg.String(ErrorsTolerance), "all") {
			return nil, configErr(BatchingEnabled, true, "Cannot use errors.tolerance when batching is enabled")
		}
	} else {
		s.batchingAllowsReporter = true
	}
	if ct := cfg.String(HTTPHeadersContentType); ct != "" {
		s.headers = append(s.headers, header{"Content-Type", ct})
	}
	for _, h := range cfg.List(HTTPHeadersAdditional) {
		name, value, _ := strings.Cut(h, ":")
		s.headers = append(s.headers, header{strings.TrimSpace(name), strings.TrimSpace(value)})
	}
	switch s.authType {
	case "static":
		if strings.TrimSpace(s.staticAuth) == "" {
			return nil, configErr(HTTPHeadersAuth, nil, "Must be present when http.authorization.type = STATIC")
		}
	case "none":
		if strings.TrimSpace(s.staticAuth) != "" {
			return nil, configErr(HTTPHeadersAuth, connect.Password(""), "Must not be present when http.authorization.type != STATIC")
		}
	case "oauth2":
		for _, k := range []string{OAuth2AccessTokenURL, OAuth2GrantTypeProp, OAuth2GrantType, OAuth2ClientIDProp, OAuth2ClientID, OAuth2ClientSecretProp} {
			if strings.TrimSpace(cfg.String(k)) == "" {
				return nil, configErr(k, cfg.String(k), "Must be present when http.headers.authorization = OAUTH2")
			}
		}
		if cfg.Password(OAuth2ClientSecret).Value() == "" {
			return nil, configErr(OAuth2ClientSecret, nil, "Must be present when http.headers.authorization = OAUTH2")
		}
		renew := map[int]bool{}
		for _, c := range cfg.List(OAuth2RenewOnStatus) {
			n, _ := strconv.Atoi(c)
			renew[n] = true
		}
		s.oauth = oauthSettings{
			tokenURL:      cfg.String(OAuth2AccessTokenURL),
			clientID:      cfg.String(OAuth2ClientID),
			clientSecret:  cfg.Password(OAuth2ClientSecret).Value(),
			scope:         cfg.String(OAuth2ClientScope),
			headerMode:    strings.EqualFold(cfg.String(OAuth2ClientAuthMode), "HEADER"),
			grantTypeProp: cfg.String(OAuth2GrantTypeProp),
			grantType:     cfg.String(OAuth2GrantType),
			idProp:        cfg.String(OAuth2ClientIDProp),
			secretProp:    cfg.String(OAuth2ClientSecretProp),
			tokenProp:     cfg.String(OAuth2ResponseTokenKey),
			useTokenType:  true,
			renewOn:       renew,
		}
	}
	host, port := cfg.String(HTTPProxyHost), cfg.Int(HTTPProxyPort)
	if (host != "") != (port > -1) {
		return nil, configErr(HTTPProxyHost, host, "Proxy host and port must be defined together")
	}
	if host != "" {
		s.proxy = "http://" + host + ":" + strconv.Itoa(port)
	}
	return s, nil
}

func parseConfluent(props map[string]string) (*settings, error) {
	cfg, err := ConfluentConfigDef().Parse(props)
	if err != nil {
		return nil, err
	}
	s := &settings{
		flavour:                confluent,
		url:                    cfg.String(HTTPAPIURL),
		method:                 strings.ToUpper(cfg.String(RequestMethod)),
		authType:               strings.ToLower(cfg.String(AuthType)),
		user:                   cfg.String(ConnectionUser),
		password:               cfg.Password(ConnectionPassword).Value(),
		decimalNumeric:         strings.EqualFold(cfg.String(DecimalFormat), "NUMERIC"),
		batchMax:               cfg.Int(BatchMaxSize),
		batching:               true,
		prefix:                 rawOr(props, BatchPrefix, ""),
		suffix:                 rawOr(props, BatchSuffix, ""),
		separator:              rawOr(props, BatchSeparator, ","),
		jsonArray:              cfg.Bool(BatchJSONAsArray),
		keyPattern:             cfg.String(BatchKeyPattern),
		maxRetries:             cfg.Int(MaxRetries),
		backoff:                time.Duration(cfg.Int(RetryBackoff)) * time.Millisecond,
		exponential:            strings.EqualFold(cfg.String(RetryBackoffPolicy), "EXPONENTIAL_WITH_JITTER"),
		connectTimeout:         time.Duration(cfg.Int(ConnectTimeout)) * time.Millisecond,
		reqTimeout:             time.Duration(cfg.Int(RequestTimeout)) * time.Millisecond,
		nullBehavior:           strings.ToLower(cfg.String(BehaviorOnNullValues)),
		errorBehavior:          strings.ToLower(cfg.String(BehaviorOnError)),
		errorsAsResponse:       strings.EqualFold(cfg.String(ReportErrorsAs), "http_response"),
		batchingAllowsReporter: true,
		reporter: reporterSettings{
			bootstrap:   cfg.String(ReporterBootstrap),
			resultTopic: cfg.String(ReporterResultTopic),
			errorTopic:  cfg.String(ReporterErrorTopic),
			resultRF:    cfg.Short(ReporterResultRF),
			errorRF:     cfg.Short(ReporterErrorRF),
			resultParts: int32(cfg.Int(ReporterResultParts)),
			errorParts:  int32(cfg.Int(ReporterErrorParts)),
		},
	}
	s.kafkaBackoff = s.backoff
	u := strings.NewReplacer("${topic}", "t", "${key}", "k").Replace(s.url)
	if strings.Contains(u, "${") {
		return nil, configErr(HTTPAPIURL, s.url, "only the ${topic} and ${key} templates are supported")
	}
	if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return nil, configErr(HTTPAPIURL, s.url, "should be valid URL")
	}
	codes, _ := parseStatusRanges(cfg.String(RetryOnStatusCodes))
	s.retryStatus = codes.has
	if strings.EqualFold(cfg.String(RequestBodyFormat), "json") {
		s.format = formatJSON
	} else {
		s.format = formatString
		if s.jsonArray {
			return nil, configErr(BatchJSONAsArray, true, "batch.json.as.array needs request.body.format=json")
		}
	}
	if s.headers, err = parseHeaders(cfg.String(Headers), rawOr(props, HeaderSeparator, "|")); err != nil {
		return nil, configErr(Headers, cfg.String(Headers), err.Error())
	}
	switch s.authType {
	case "basic":
		if s.user == "" {
			return nil, configErr(ConnectionUser, nil, "Must be present when auth.type = BASIC")
		}
	case "oauth2":
		for _, k := range []string{OAuth2TokenURL, OAuth2ClientID} {
			if strings.TrimSpace(cfg.String(k)) == "" {
				return nil, configErr(k, cfg.String(k), "Must be present when auth.type = OAUTH2")
			}
		}
		if cfg.Password(OAuth2ClientSecret).Value() == "" {
			return nil, configErr(OAuth2ClientSecret, nil, "Must be present when auth.type = OAUTH2")
		}
		extra, err := parseHeaders(cfg.Password(OAuth2ClientHeaders).Value(), rawOr(props, HeaderSeparator, "|"))
		if err != nil {
			return nil, configErr(OAuth2ClientHeaders, connect.Password(""), err.Error())
		}
		scope := cfg.String(OAuth2ClientScope)
		s.oauth = oauthSettings{
			tokenURL:      cfg.String(OAuth2TokenURL),
			clientID:      cfg.String(OAuth2ClientID),
			clientSecret:  cfg.Password(OAuth2ClientSecret).Value(),
			scope:         scope,
			headerMode:    strings.EqualFold(cfg.String(OAuth2ClientAuthModeC), "header"),
			grantTypeProp: "grant_type",
			grantType:     "client_credentials",
			idProp:        "client_id",
			secretProp:    "client_secret",
			tokenProp:     cfg.String(OAuth2TokenProperty),
			extraHeaders:  extra,
			renewOn:       map[int]bool{401: true},
		}
	}
	if (s.reporter.resultTopic != "" || s.reporter.errorTopic != "") && strings.TrimSpace(s.reporter.bootstrap) == "" {
		return nil, configErr(ReporterBootstrap, "", "Must be present when a reporter topic is set")
	}
	for k := range props {
		if strings.HasPrefix(k, "reporter.") {
			if _, ok := ConfluentConfigDef().Key(k); !ok {
				return nil, configErr(k, props[k], "this reporter client setting is not supported")
			}
		}
		for _, unsupported := range []string{"oauth2.jwt.enabled", "https.ssl.", "ssl.enabled", "http.proxy.", "regex.patterns"} {
			if strings.HasPrefix(k, unsupported) && !(k == "oauth2.jwt.enabled" && strings.EqualFold(strings.TrimSpace(props[k]), "false")) &&
				!(k == "ssl.enabled" && strings.EqualFold(strings.TrimSpace(props[k]), "false")) {
				return nil, configErr(k, props[k], "not supported by Ferry's HTTP sink")
			}
		}
	}
	return s, nil
}
