package connect

import (
	"fmt"
	"slices"
	"strings"
)

// PluginKind is what a plugin is, named as Apache's PluginType in REST
// output.
type PluginKind string

// Plugin kinds.
const (
	KindSource          PluginKind = "source"
	KindSink            PluginKind = "sink"
	KindConverter       PluginKind = "converter"
	KindHeaderConverter PluginKind = "header_converter"
	KindTransformation  PluginKind = "transformation"
	KindPredicate       PluginKind = "predicate"
)

// Plugin describes one connector, converter, transform or predicate. Each
// plugin package exports its descriptors; a registry is assembled from an
// explicit list of them.
type Plugin struct {
	Kind PluginKind
	// Class is the Java class name the plugin answers to, such as
	// org.apache.kafka.connect.file.FileStreamSourceConnector. Stored
	// configs refer to plugins by this name.
	Class string
	// Aliases are extra names. The simple class name and the simple name
	// without its kind suffix (FileStreamSource) are added automatically.
	Aliases []string
	// Version is reported by /connector-plugins; empty omits it.
	Version string
	// TaskClass is the Java class name written as task.class in task
	// configs (connectors only).
	TaskClass string
	// Config declares the plugin's configuration.
	Config func() *ConfigDef
	// New returns a fresh instance: a SourceConnector, SinkConnector,
	// Converter, HeaderConverter, Transformation or Predicate, matching Kind.
	// A converter that is also a header converter may register twice.
	New func() any
	// Doc is a one-line description.
	Doc string
}

// Registry resolves plugin names. It is built once and read-only after.
type Registry struct {
	plugins []Plugin
	byName  map[string]int
}

// NewRegistry assembles a registry, rejecting empty or conflicting names.
// Apache's aliases are computed per kind group (connectors; converters and
// header converters; transforms; predicates) and only kept when unique.
func NewRegistry(plugins ...Plugin) (*Registry, error) {
	r := &Registry{byName: map[string]int{}}
	for _, p := range plugins {
		if p.Class == "" || p.Kind == "" || p.New == nil {
			return nil, fmt.Errorf("plugin %q: class, kind and constructor are required", p.Class)
		}
		if _, dup := r.byName[key(p.Kind, p.Class)]; dup {
			return nil, fmt.Errorf("plugin %s registered twice", p.Class)
		}
		r.byName[key(p.Kind, p.Class)] = len(r.plugins)
		r.plugins = append(r.plugins, p)
	}
	counts := map[string]int{}
	for _, p := range r.plugins {
		for _, a := range autoAliases(p) {
			counts[key(p.Kind, a)]++
		}
	}
	for i, p := range r.plugins {
		for _, a := range autoAliases(p) {
			k := key(p.Kind, a)
			if counts[k] == 1 {
				if _, taken := r.byName[k]; !taken {
					r.byName[k] = i
				}
			}
		}
		for _, a := range p.Aliases {
			k := key(p.Kind, a)
			if j, taken := r.byName[k]; taken && j != i {
				return nil, fmt.Errorf("alias %s of %s is already taken by %s", a, p.Class, r.plugins[j].Class)
			}
			r.byName[k] = i
		}
	}
	return r, nil
}

// kindGroup folds kinds that share a name space: a connector name must not
// be both a source and a sink.
func kindGroup(k PluginKind) string {
	switch k {
	case KindSource, KindSink:
		return "connector"
	}
	return string(k)
}

func key(k PluginKind, name string) string { return kindGroup(k) + "\x00" + name }

func autoAliases(p Plugin) []string {
	simple := p.Class[strings.LastIndexAny(p.Class, ".")+1:]
	out := []string{simple}
	suffix := map[PluginKind]string{
		KindSource: "Connector", KindSink: "Connector", KindConverter: "Converter",
		KindHeaderConverter: "Converter", KindTransformation: "Transformation", KindPredicate: "Predicate",
	}[p.Kind]
	if s, ok := strings.CutSuffix(simple, suffix); ok && s != "" {
		out = append(out, s)
	}
	return out
}

// Lookup finds a plugin of one of the given kinds by class name or alias.
func (r *Registry) Lookup(name string, kinds ...PluginKind) (Plugin, bool) {
	name = strings.TrimSpace(name)
	for _, k := range kinds {
		if i, ok := r.byName[key(k, name)]; ok && r.plugins[i].Kind == k {
			return r.plugins[i], true
		}
		// source and sink share a group; check the other member too
		if i, ok := r.byName[key(k, name)]; ok && slices.Contains(kinds, r.plugins[i].Kind) {
			return r.plugins[i], true
		}
	}
	return Plugin{}, false
}

// LookupConnector finds a source or sink connector.
func (r *Registry) LookupConnector(name string) (Plugin, bool) {
	return r.Lookup(name, KindSource, KindSink)
}

// Plugins returns the plugins of the given kinds in registration order.
func (r *Registry) Plugins(kinds ...PluginKind) []Plugin {
	var out []Plugin
	for _, p := range r.plugins {
		if slices.Contains(kinds, p.Kind) {
			out = append(out, p)
		}
	}
	return out
}

// ConfigDefOf returns a plugin's ConfigDef, or an empty one.
func (p Plugin) ConfigDefOf() *ConfigDef {
	if p.Config == nil {
		return NewConfigDef()
	}
	return p.Config()
}
