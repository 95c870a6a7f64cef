package runtime

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ferryhq/ferry/connect"
)

// TransformChain is a connector's configured transforms, in order, each
// with its optional predicate. It implements task.Transformer.
type TransformChain struct {
	stages     []stage
	predicates []connect.Predicate
}

type stage struct {
	alias     string
	class     string // the transform's Java class name, for DLQ headers
	transform connect.Transformation
	sink      connect.SinkTransformation // non-nil when transform needs sink metadata
	predicate connect.Predicate          // nil: always applies
	negate    bool
}

// BuildTransformChain configures the transforms and predicates named by
// the transforms and predicates keys of a connector config. Each plugin
// receives its own keys with the transforms.<alias>. (or
// predicates.<alias>.) prefix removed, minus type, predicate and negate.
// On error everything configured so far is closed.
func BuildTransformChain(reg *connect.Registry, connConfig map[string]string) (chain *TransformChain, err error) {
	chain = &TransformChain{}
	defer func() {
		if err != nil {
			_ = chain.Close()
			chain = nil
		}
	}()
	preds := map[string]connect.Predicate{}
	for _, alias := range splitList(connConfig[KeyPredicates]) {
		prefix := "predicates." + alias + "."
		inst, err := newPlugin(reg, connConfig, prefix+"type", connect.KindPredicate)
		if err != nil {
			return chain, err
		}
		p, ok := inst.(connect.Predicate)
		if !ok {
			return chain, fmt.Errorf("plugin %s is not a predicate", connConfig[prefix+"type"])
		}
		chain.predicates = append(chain.predicates, p)
		if err := p.Configure(pluginProps(connConfig, prefix)); err != nil {
			return chain, fmt.Errorf("configuring predicate %s (%s): %w", alias, connConfig[prefix+"type"], err)
		}
		preds[alias] = p
	}
	for _, alias := range splitList(connConfig[KeyTransforms]) {
		prefix := "transforms." + alias + "."
		inst, err := newPlugin(reg, connConfig, prefix+"type", connect.KindTransformation)
		if err != nil {
			return chain, err
		}
		t, ok := inst.(connect.Transformation)
		if !ok {
			return chain, fmt.Errorf("plugin %s is not a transformation", connConfig[prefix+"type"])
		}
		st := stage{alias: alias, transform: t}
		if p, ok := reg.Lookup(connConfig[prefix+"type"], connect.KindTransformation); ok {
			st.class = p.Class
		}
		st.sink, _ = t.(connect.SinkTransformation)
		chain.stages = append(chain.stages, st)
		if err := t.Configure(pluginProps(connConfig, prefix)); err != nil {
			return chain, fmt.Errorf("configuring transformation %s (%s): %w", alias, connConfig[prefix+"type"], err)
		}
		last := &chain.stages[len(chain.stages)-1]
		if name, set := connConfig[prefix+"predicate"]; set && strings.TrimSpace(name) != "" {
			name = strings.TrimSpace(name)
			p, ok := preds[name]
			if !ok {
				return chain, &connect.ConfigError{Name: prefix + "predicate", Value: name, HasVal: true,
					Message: fmt.Sprintf("Predicate alias %s not found in %s", name, KeyPredicates)}
			}
			last.predicate = p
		}
		if raw, set := connConfig[prefix+"negate"]; set {
			v, err := connect.ParseValue(connect.TypeBoolean, raw)
			if err != nil {
				return chain, &connect.ConfigError{Name: prefix + "negate", Value: raw, HasVal: true, Message: err.Error()}
			}
			if last.predicate == nil {
				return chain, &connect.ConfigError{Message: fmt.Sprintf("Config '%snegate' was provided but there is no config '%spredicate' defining a predicate to be negated.", prefix, prefix)}
			}
			last.negate = v.(bool)
		}
	}
	return chain, nil
}

// newPlugin resolves and instantiates the class named by typeKey.
func newPlugin(reg *connect.Registry, config map[string]string, typeKey string, kind connect.PluginKind) (any, error) {
	class, ok := config[typeKey]
	if !ok || strings.TrimSpace(class) == "" {
		return nil, &connect.ConfigError{Message: fmt.Sprintf("Missing required configuration %q which has no default value.", typeKey)}
	}
	p, found := reg.Lookup(class, kind)
	if !found {
		return nil, &connect.ConfigError{Name: typeKey, Value: class, HasVal: true, Message: fmt.Sprintf("Class %s could not be found.", class)}
	}
	return p.New(), nil
}

// pluginProps returns the keys under prefix, prefix removed, without the
// framework's own type, predicate and negate keys.
func pluginProps(config map[string]string, prefix string) map[string]string {
	props := connect.StripPrefix(config, prefix)
	delete(props, "type")
	if strings.HasPrefix(prefix, "transforms.") {
		delete(props, "predicate")
		delete(props, "negate")
	}
	return props
}

// ValidateTransformConfigs configures each transform and predicate of a
// connector config the way a task would, and returns the configuration
// errors Configure reports beyond what the plugins' ConfigDefs check
// (cross-key rules such as InsertField's "No field insertion configured").
// Errors are keyed by the alias's type key (transforms.<alias>.type), or by
// the key a ConfigError names (with the alias prefix added).
func ValidateTransformConfigs(reg *connect.Registry, connConfig map[string]string) map[string][]string {
	out := map[string][]string{}
	check := func(listKey, prefixBase string, kind connect.PluginKind) {
		for _, alias := range splitList(connConfig[listKey]) {
			prefix := prefixBase + alias + "."
			p, ok := reg.Lookup(connConfig[prefix+"type"], kind)
			if !ok {
				continue // the type key's own validator reports it
			}
			props := pluginProps(connConfig, prefix)
			// Keys the ConfigDef already rejects are reported by the
			// enriched definition; only run Configure when they pass.
			if _, err := p.ConfigDefOf().Parse(props); err != nil {
				continue
			}
			var err error
			switch inst := p.New().(type) {
			case connect.Transformation:
				err = inst.Configure(props)
				_ = inst.Close()
			case connect.Predicate:
				err = inst.Configure(props)
				_ = inst.Close()
			}
			if err == nil {
				continue
			}
			key := prefix + "type"
			var ce *connect.ConfigError
			if errors.As(err, &ce) && ce.Name != "" {
				key = prefix + ce.Name
				if ce.HasVal {
					ce = &connect.ConfigError{Name: key, Value: ce.Value, HasVal: true, Message: ce.Message}
					err = ce
				}
			}
			out[key] = append(out[key], err.Error())
		}
	}
	check(KeyTransforms, "transforms.", connect.KindTransformation)
	check(KeyPredicates, "predicates.", connect.KindPredicate)
	for _, alias := range splitList(connConfig[KeyTransforms]) {
		prefix := "transforms." + alias + "."
		name := strings.TrimSpace(connConfig[prefix+"predicate"])
		if name == "" {
			continue
		}
		found := false
		for _, p := range splitList(connConfig[KeyPredicates]) {
			found = found || p == name
		}
		if !found {
			out[prefix+"predicate"] = append(out[prefix+"predicate"],
				fmt.Sprintf("Invalid value %s for configuration %spredicate: Predicate alias %s not found in %s", name, prefix, name, KeyPredicates))
		}
	}
	return out
}

// Apply runs the record through every stage; a nil result drops it.
func (c *TransformChain) Apply(rec *connect.Record) (*connect.Record, error) {
	return c.apply(rec, nil)
}

// ApplySink is Apply for a consumed record: stages that need sink
// metadata (InsertField's offset.field) see the record's Kafka offset.
func (c *TransformChain) ApplySink(rec *connect.SinkRecord) (*connect.Record, error) {
	return c.apply(&rec.Record, rec)
}

func (c *TransformChain) apply(rec *connect.Record, sink *connect.SinkRecord) (*connect.Record, error) {
	for i := range c.stages {
		st := &c.stages[i]
		if st.predicate != nil {
			match, err := st.predicate.Test(rec)
			if err != nil {
				return nil, fmt.Errorf("predicate of transformation %s: %w", st.alias, err)
			}
			if match == st.negate {
				continue
			}
		}
		var err error
		if st.sink != nil && sink != nil {
			cur := *sink
			cur.Record = *rec
			rec, err = st.sink.ApplySink(&cur)
		} else {
			rec, err = st.transform.Apply(rec)
		}
		if err != nil {
			return nil, &stageError{class: st.class, err: err}
		}
		if rec == nil {
			return nil, nil
		}
	}
	return rec, nil
}

// stageError names the transform that failed (task.PluginClassError) while
// keeping the transform's own message and error chain.
type stageError struct {
	class string
	err   error
}

func (e *stageError) Error() string       { return e.err.Error() }
func (e *stageError) Unwrap() error       { return e.err }
func (e *stageError) PluginClass() string { return e.class }

// Len is the number of transformation stages.
func (c *TransformChain) Len() int { return len(c.stages) }

// Close closes every transform and predicate, returning the first error.
func (c *TransformChain) Close() error {
	if c == nil {
		return nil
	}
	var errs []error
	for _, st := range c.stages {
		if err := st.transform.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing transformation %s: %w", st.alias, err))
		}
	}
	for _, p := range c.predicates {
		if err := p.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
