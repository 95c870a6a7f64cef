package rest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/ferryhq/ferry/runtime/herder"
)

// Jackson renders empty lists and maps as [] and {}; Go would write null
// for nil ones, so entities from the herder are normalised first.

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func normInfo(in *herder.ConnectorInfo) *herder.ConnectorInfo {
	if in == nil {
		return nil
	}
	c := *in
	c.Config = nonNilMap(c.Config)
	c.Tasks = nonNil(c.Tasks)
	return &c
}

func normStatus(st *herder.ConnectorStateInfo) *herder.ConnectorStateInfo {
	if st == nil {
		return nil
	}
	c := *st
	c.Tasks = nonNil(c.Tasks)
	return &c
}

func normKey(k *herder.ConfigKeyInfo) {
	if k != nil {
		k.Dependents = nonNil(k.Dependents)
	}
}

func normInfos(ci *herder.ConfigInfos) *herder.ConfigInfos {
	if ci == nil {
		return nil
	}
	c := *ci
	c.Groups = nonNil(c.Groups)
	c.Configs = nonNil(c.Configs)
	for i := range c.Configs {
		normKey(c.Configs[i].Definition)
		if v := c.Configs[i].Value; v != nil {
			v.RecommendedValues = nonNil(v.RecommendedValues)
			v.Errors = nonNil(v.Errors)
		}
	}
	return &c
}

// numbers replaces json.Number values (from a UseNumber decoder) with
// int64 when integral, else float64, recursively.
func numbers(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	for k, v := range m {
		m[k] = number(v)
	}
	return m
}

func number(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		if f, err := v.Float64(); err == nil {
			return f
		}
		return v.String()
	case map[string]any:
		return numbers(v)
	case []any:
		for i := range v {
			v[i] = number(v[i])
		}
		return v
	default:
		return v
	}
}

// readAllAndRestore reads the body and replaces it with a copy.
func readAllAndRestore(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}
