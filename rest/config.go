package rest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/secrets"
	"github.com/ferryhq/ferry/runtime/herder"
)

// nullValueError is the validation error Apache reports for a JSON null.
const nullValueError = "Null value can not be supplied as the configuration value."

// configValues converts a decoded JSON object into config strings. Numbers
// and booleans become their JSON text, as Jackson does for
// Map<String,String>; null stays nil; objects and arrays are a 400.
func configValues(raw map[string]any) (map[string]*string, error) {
	out := make(map[string]*string, len(raw))
	for k, v := range raw {
		var s string
		switch v := v.(type) {
		case nil:
			out[k] = nil
			continue
		case string:
			s = v
		case json.Number:
			s = v.String()
		case bool:
			s = fmt.Sprint(v)
		default:
			return nil, herder.BadRequest("Malformed JSON in request body: the value of %q must be a string, not a JSON %s", k, jsonKind(v))
		}
		out[k] = &s
	}
	return out, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// decodeConfig reads a flat config map from the body. A key with a JSON
// null fails validation the way Apache's full validation reports it.
func decodeConfig(raw map[string]any) (map[string]string, error) {
	vals, err := configValues(raw)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(vals))
	nulls := 0
	for k, v := range vals {
		if v == nil {
			nulls++
			continue
		}
		out[k] = *v
	}
	if nulls > 0 {
		return nil, invalidConfig(nulls)
	}
	return out, nil
}

func invalidConfig(nulls int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Connector configuration is invalid and contains the following %d error(s):\n", nulls)
	for range nulls {
		b.WriteString(nullValueError + "\n")
	}
	b.WriteString("You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`")
	return herder.BadRequest("%s", b.String())
}

// javaMapString renders m as Java's HashMap.toString does: "{k=v, k2=v2}"
// in HashMap iteration order, which is what Apache's error messages show.
func javaMapString(m map[string]string) string {
	keys := make(map[string]any, len(m))
	for k := range m {
		keys[k] = nil
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range connect.JavaHashMapOrder(keys) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(m[k])
	}
	b.WriteByte('}')
	return b.String()
}

// requireConnectorClass fails like Apache's validation does when the
// config names no connector class.
func requireConnectorClass(config map[string]string) error {
	if _, ok := config["connector.class"]; !ok {
		return herder.BadRequest("Connector config %s contains no connector type", javaMapString(secrets.Config(config)))
	}
	return nil
}

// checkAndPutName requires config's "name", when present, to equal name,
// and otherwise sets it.
func checkAndPutName(name string, config map[string]string) error {
	if included, ok := config["name"]; ok {
		if included != name {
			return herder.BadRequest("Connector name configuration (%s) doesn't match connector name in the URL (%s)", included, name)
		}
		return nil
	}
	config["name"] = name
	return nil
}

// normalizedPluginName drops a trailing "Connector" so that a class name
// and its alias compare equal.
func normalizedPluginName(name string) string {
	const suffix = "Connector"
	if strings.HasSuffix(name, suffix) && len(name) > len(suffix) {
		return name[:len(name)-len(suffix)]
	}
	return name
}
