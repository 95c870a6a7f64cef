package rest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HeaderRule is one rule of "response.http.headers.config": an action
// (set, add, setDate, addDate) on a response header.
type HeaderRule struct {
	Action string // lower case
	Name   string
	Value  string
}

// ParseHeaderConfig parses "response.http.headers.config" as Apache does:
// comma-separated "[action] [name]:[value]" rules, a rule holding a comma
// put in double quotes. An invalid rule is an error (the worker does not
// start).
func ParseHeaderConfig(s string) ([]HeaderRule, error) {
	var rules []HeaderRule
	for _, raw := range splitQuoted(s) {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		raw = strings.TrimSpace(strings.Trim(raw, `"`))
		action, rest, ok := strings.Cut(raw, " ")
		if !ok {
			return nil, fmt.Errorf("invalid response.http.headers.config rule %q: expected [action] [header name]:[header value]", raw)
		}
		name, value, ok := strings.Cut(strings.TrimSpace(rest), ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" {
			return nil, fmt.Errorf("invalid response.http.headers.config rule %q: expected [action] [header name]:[header value]", raw)
		}
		r := HeaderRule{Action: strings.ToLower(action), Name: name, Value: value}
		switch r.Action {
		case "set", "add":
		case "setdate", "adddate":
			if _, err := strconv.ParseInt(value, 10, 64); err != nil {
				return nil, fmt.Errorf("invalid response.http.headers.config rule %q: %s takes milliseconds", raw, action)
			}
		default:
			return nil, fmt.Errorf("invalid response.http.headers.config rule %q: action must be set, add, setDate or addDate", raw)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// splitQuoted splits on commas outside double quotes.
func splitQuoted(s string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func applyHeaders(h http.Header, rules []HeaderRule, now time.Time) {
	for _, r := range rules {
		switch r.Action {
		case "set":
			h.Set(r.Name, r.Value)
		case "add":
			h.Add(r.Name, r.Value)
		case "setdate", "adddate":
			ms, _ := strconv.ParseInt(r.Value, 10, 64)
			v := now.Add(time.Duration(ms) * time.Millisecond).UTC().Format(http.TimeFormat)
			if r.Action == "setdate" {
				h.Set(r.Name, v)
			} else {
				h.Add(r.Name, v)
			}
		}
	}
}
