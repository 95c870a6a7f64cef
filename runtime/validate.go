package runtime

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ferryhq/ferry/connect"
	"github.com/ferryhq/ferry/internal/secrets"
	"github.com/ferryhq/ferry/runtime/herder"
)

// ConnectorType maps a plugin kind to the REST type name.
func ConnectorType(p connect.Plugin) herder.ConnectorType {
	switch p.Kind {
	case connect.KindSource:
		return herder.TypeSource
	case connect.KindSink:
		return herder.TypeSink
	}
	return herder.TypeUnknown
}

// JavaMapString renders a config map like Java's Map.toString, which is what
// Apache puts in several error messages. Pass it RedactProps(m) when m may
// hold secrets.
func JavaMapString(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// LookupConnectorPlugin resolves connector.class, with a 400 error that
// names the key when it is missing or unknown.
func LookupConnectorPlugin(reg *connect.Registry, config map[string]string) (connect.Plugin, error) {
	class, ok := config[KeyConnectorClass]
	if !ok || strings.TrimSpace(class) == "" {
		return connect.Plugin{}, herder.BadRequest("Connector config %s contains no connector type", JavaMapString(RedactSecrets(config)))
	}
	p, ok := reg.LookupConnector(class)
	if !ok {
		var names []string
		for _, q := range reg.Plugins(connect.KindSource, connect.KindSink) {
			names = append(names, q.Class)
		}
		return connect.Plugin{}, herder.BadRequest("Invalid value %s for configuration %s: Failed to find any class that implements Connector and which name matches %s, available connectors are: %s",
			class, KeyConnectorClass, class, strings.Join(names, ", "))
	}
	return p, nil
}

// section is one block of validated keys: definitions plus results.
type section struct {
	prefix string
	def    *connect.ConfigDef
	values []connect.ConfigValue
}

// ValidateConnectorConfig validates a connector config the way
// PUT /connector-plugins/{p}/config/validate reports it. The error is
// non-nil only when the connector class cannot be resolved.
//
// With WithWorker, the connector's producer.override., consumer.override.
// and admin.override. keys are checked against the worker's override policy
// and merged with its client settings: a security setting Ferry cannot
// honour is an error, other unsupported properties are logged as warnings.
func ValidateConnectorConfig(reg *connect.Registry, config map[string]string, opts ...ValidateOption) (*herder.ConfigInfos, connect.Plugin, error) {
	var vo validateOptions
	for _, o := range opts {
		o(&vo)
	}
	plugin, err := LookupConnectorPlugin(reg, config)
	if err != nil {
		return nil, plugin, err
	}
	framework := enrichedFrameworkDef(reg, plugin.Kind, config)
	own := plugin.ConfigDefOf()

	fwValues := framework.Validate(config)
	ownValues := own.Validate(config)
	extra := map[string][]string{}
	if plugin.Kind == connect.KindSink {
		sinkChecks(config, extra)
	}
	transformChecks(config, extra)
	// Configure each transform and predicate now: Apache only finds these
	// problems when a task starts; Ferry reports them on create.
	for k, errs := range ValidateTransformConfigs(reg, config) {
		extra[k] = append(extra[k], errs...)
	}
	if cv, ok := plugin.New().(connect.ConfigValidator); ok {
		for k, errs := range cv.ValidateConfig(config) {
			extra[k] = append(extra[k], errs...)
		}
	}

	if vo.worker != nil {
		for k, errs := range clientOverrideErrors(vo.worker, vo.logger, plugin.Kind, config) {
			extra[k] = append(extra[k], errs...)
		}
		// tasks.max.limit bounds what one request can make the worker
		// allocate for task configs.
		limit := TasksMaxLimit(vo.worker)
		if v := strings.TrimSpace(config[KeyTasksMax]); v != "" {
			if n, perr := strconv.ParseInt(v, 10, 64); perr == nil && n > int64(limit) {
				extra[KeyTasksMax] = append(extra[KeyTasksMax], fmt.Sprintf("Invalid value %s for configuration %s: Value must be no more than %d (the worker's %s)", v, KeyTasksMax, limit, WTasksMaxLimit))
			}
		}
	}

	infos := &herder.ConfigInfos{Name: config[KeyConnectorClass]}
	seen := map[string]bool{}
	add := func(def connect.ConfigKey, v connect.ConfigValue) {
		if seen[def.Name] {
			return
		}
		seen[def.Name] = true
		v.Errors = append(v.Errors, extra[def.Name]...)
		delete(extra, def.Name)
		infos.Configs = append(infos.Configs, herder.ConfigInfo{Definition: KeyInfo(def), Value: valueInfo(def, v)})
		infos.ErrorCount += len(v.Errors)
	}
	for i, k := range framework.Keys() {
		add(k, fwValues[i])
	}
	for i, k := range own.Keys() {
		add(k, ownValues[i])
	}
	// Converter sections: a converter override must resolve to a plugin.
	for _, ck := range []struct {
		key  string
		kind connect.PluginKind
	}{{KeyKeyConverter, connect.KindConverter}, {KeyValueConverter, connect.KindConverter}, {KeyHeaderConverter, connect.KindHeaderConverter}} {
		if name, ok := config[ck.key]; ok && strings.TrimSpace(name) != "" {
			if _, found := reg.Lookup(name, ck.kind); !found {
				markError(infos, ck.key, fmt.Sprintf("Invalid value %s for configuration %s: Class %s could not be found.", name, ck.key, name))
			}
		}
	}
	// Errors for keys with no definition come first, as Apache orders them.
	var undefined []herder.ConfigInfo
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		val := RedactValue(k, config[k], false)
		undefined = append(undefined, herder.ConfigInfo{Value: &herder.ConfigValueInfo{Name: k, Value: &val, RecommendedValues: []string{}, Errors: extra[k], Visible: true}})
		infos.ErrorCount += len(extra[k])
	}
	infos.Configs = append(undefined, infos.Configs...)
	infos.Groups = mergeGroups(framework.Groups(), own.Groups())
	scrubErrors(infos, config, framework, own)
	return infos, plugin, nil
}

// scrubErrors hides secrets that plugin messages quote (a JDBC URL with
// its password, say) in every validation error.
func scrubErrors(infos *herder.ConfigInfos, config map[string]string, defs ...*connect.ConfigDef) {
	password := map[string]bool{}
	for _, d := range defs {
		for _, k := range d.Keys() {
			if k.Type == connect.TypePassword {
				password[k.Name] = true
			}
		}
	}
	for i := range infos.Configs {
		v := infos.Configs[i].Value
		if v == nil {
			continue
		}
		for j, e := range v.Errors {
			v.Errors[j] = secrets.Scrub(e, config, func(k string) bool { return password[k] })
		}
	}
}

func markError(infos *herder.ConfigInfos, key, msg string) {
	for i := range infos.Configs {
		c := &infos.Configs[i]
		if c.Definition != nil && c.Definition.Name == key && c.Value != nil {
			c.Value.Errors = append(c.Value.Errors, msg)
			infos.ErrorCount++
			return
		}
	}
}

func mergeGroups(lists ...[]string) []string {
	out := []string{}
	for _, l := range lists {
		for _, g := range l {
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out
}

func sinkChecks(config map[string]string, extra map[string][]string) {
	topics := strings.TrimSpace(config[KeyTopics])
	regex := strings.TrimSpace(config[KeyTopicsRegex])
	switch {
	case topics != "" && regex != "":
		msg := "topics and topics.regex are mutually exclusive options, but both are set."
		extra[KeyTopics] = append(extra[KeyTopics], msg)
		extra[KeyTopicsRegex] = append(extra[KeyTopicsRegex], msg)
	case topics == "" && regex == "":
		msg := "Must configure one of topics or topics.regex"
		extra[KeyTopics] = append(extra[KeyTopics], msg)
		extra[KeyTopicsRegex] = append(extra[KeyTopicsRegex], msg)
	}
	if dlq := strings.TrimSpace(config[KeyDLQTopic]); dlq != "" && topics != "" {
		for _, t := range splitList(topics) {
			if t == dlq {
				extra[KeyDLQTopic] = append(extra[KeyDLQTopic], fmt.Sprintf("The DLQ topic '%s' may not be included in the list of topics ('%s=[%s]') consumed by the connector", dlq, KeyTopics, strings.Join(splitList(topics), ", ")))
			}
		}
	}
}

func transformChecks(config map[string]string, extra map[string][]string) {
	for _, alias := range splitList(config[KeyTransforms]) {
		neg := "transforms." + alias + ".negate"
		if _, ok := config[neg]; ok {
			if _, hasPred := config["transforms."+alias+".predicate"]; !hasPred {
				extra[neg] = append(extra[neg], fmt.Sprintf("Config '%s' was provided but there is no config 'transforms.%s.predicate' defining a predicate to be negated.", neg, alias))
			}
		}
	}
}

func splitList(s string) []string {
	v, _ := connect.ParseValue(connect.TypeList, s)
	l, _ := v.([]string)
	return l
}

// enrichedFrameworkDef adds, per transform and predicate alias, the
// type/predicate/negate keys and the plugin's own keys under its prefix.
func enrichedFrameworkDef(reg *connect.Registry, kind connect.PluginKind, config map[string]string) *connect.ConfigDef {
	def := FrameworkDef(kind)
	enrich := func(listKey, prefixBase, groupBase string, pkind connect.PluginKind, withPredicate bool) {
		for _, alias := range splitList(config[listKey]) {
			prefix := prefixBase + alias + "."
			group := groupBase + ": " + alias
			def.Define(connect.ConfigKey{Name: prefix + "type", Type: connect.TypeClass, Default: connect.NoDefault,
				Validator: pluginClassValidator(reg, pkind), Importance: connect.High, Doc: "Class for the '" + alias + "' " + string(pkind) + ".",
				Group: group, OrderInGroup: 0, Width: connect.WidthLong, DisplayName: string(pkind) + " type for " + alias})
			if withPredicate {
				def.Define(connect.ConfigKey{Name: prefix + "predicate", Type: connect.TypeString, Default: nil,
					Importance: connect.Medium, Doc: "Alias of the predicate deciding when this transformation applies.", Group: group, OrderInGroup: 1, Width: connect.WidthLong, DisplayName: "Predicate"})
				def.Define(connect.ConfigKey{Name: prefix + "negate", Type: connect.TypeBoolean, Default: false,
					Importance: connect.Medium, Doc: "Apply the transformation when the predicate does not match.", Group: group, OrderInGroup: 2, Width: connect.WidthShort, DisplayName: "Negate"})
			}
			if p, ok := reg.Lookup(config[prefix+"type"], pkind); ok {
				for _, k := range p.ConfigDefOf().Keys() {
					k.Name = prefix + k.Name
					k.Group = group
					def.Define(k)
				}
			}
		}
	}
	enrich(KeyTransforms, "transforms.", "Transforms", connect.KindTransformation, true)
	enrich(KeyPredicates, "predicates.", "Predicates", connect.KindPredicate, false)
	return def
}

func pluginClassValidator(reg *connect.Registry, kind connect.PluginKind) connect.Validator {
	return connect.ValidatorFunc("a "+string(kind)+" class", func(v any) error {
		s, _ := v.(string)
		if _, ok := reg.Lookup(s, kind); !ok {
			return fmt.Errorf("Class %s could not be found.", s)
		}
		return nil
	})
}

// KeyInfo renders a key definition for the REST API.
func KeyInfo(k connect.ConfigKey) *herder.ConfigKeyInfo {
	info := &herder.ConfigKeyInfo{
		Name: k.Name, Type: string(k.Type), Required: k.Required(), DefaultValue: k.RenderDefault(),
		Importance: string(k.Importance), Documentation: k.Doc, Width: string(k.Width),
		DisplayName: k.DisplayName, Dependents: k.Dependents, Order: k.OrderInGroup,
	}
	if info.Dependents == nil {
		info.Dependents = []string{}
	}
	if k.Group != "" {
		g := k.Group
		info.Group = &g
	}
	return info
}

func valueInfo(k connect.ConfigKey, v connect.ConfigValue) *herder.ConfigValueInfo {
	out := &herder.ConfigValueInfo{Name: v.Name, RecommendedValues: v.Recommended, Errors: v.Errors, Visible: v.Visible}
	if out.RecommendedValues == nil {
		out.RecommendedValues = []string{}
	}
	if out.Errors == nil {
		out.Errors = []string{}
	}
	if v.Value != nil {
		var s string
		if raw, ok := v.Value.(string); ok && k.Type != connect.TypePassword {
			s = RedactValue(k.Name, raw, false)
		} else {
			s = connect.RenderValue(k.Type, v.Value)
		}
		out.Value = &s
	}
	return out
}

// ErrorsMessage builds the 400 message POST/PUT return for invalid configs.
func ErrorsMessage(infos *herder.ConfigInfos) string {
	var msgs []string
	for _, c := range infos.Configs {
		if c.Value != nil {
			msgs = append(msgs, c.Value.Errors...)
		}
	}
	return fmt.Sprintf("Connector configuration is invalid and contains the following %d error(s):\n%s\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`",
		infos.ErrorCount, strings.Join(msgs, "\n"))
}

// PluginConfig lists a plugin's keys for GET /connector-plugins/{p}/config.
func PluginConfig(reg *connect.Registry, name string) ([]herder.ConfigKeyInfo, error) {
	kinds := []connect.PluginKind{connect.KindSource, connect.KindSink, connect.KindTransformation, connect.KindPredicate, connect.KindConverter, connect.KindHeaderConverter}
	p, ok := reg.Lookup(name, kinds...)
	if !ok {
		return nil, herder.NotFound("Unknown plugin %s.", name)
	}
	def := p.ConfigDefOf()
	if p.Kind == connect.KindSource || p.Kind == connect.KindSink {
		def = def.With(FrameworkDef(p.Kind))
	}
	out := []herder.ConfigKeyInfo{}
	for _, k := range def.Keys() {
		out = append(out, *KeyInfo(k))
	}
	return out, nil
}

// PluginInfos lists plugins for GET /connector-plugins.
func PluginInfos(reg *connect.Registry, connectorsOnly bool) []herder.PluginInfo {
	order := []connect.PluginKind{connect.KindSink, connect.KindSource}
	if !connectorsOnly {
		order = append(order, connect.KindTransformation, connect.KindPredicate, connect.KindConverter, connect.KindHeaderConverter)
	}
	out := []herder.PluginInfo{}
	for _, kind := range order {
		ps := reg.Plugins(kind)
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Class < ps[j].Class })
		for _, p := range ps {
			out = append(out, herder.PluginInfo{Class: p.Class, Type: p.Kind, Version: p.Version})
		}
	}
	return out
}

// RedactConfig returns a copy of config with PASSWORD-typed values of the
// connector's definition (and the framework's), keys named like secrets
// under any prefix (IsSecretKey) replaced by [hidden], and credentials in
// URLs hidden. Values that reference a config provider (${...}) are kept,
// as they hold no secret.
func RedactConfig(reg *connect.Registry, config map[string]string) map[string]string {
	return RedactTaskConfig(reg, config[KeyConnectorClass], config)
}

// RedactTaskConfig is RedactConfig for a config that may not name its
// connector class itself, such as a task config: the keys are judged by the
// definition of connectorClass.
func RedactTaskConfig(reg *connect.Registry, connectorClass string, config map[string]string) map[string]string {
	if config == nil {
		return nil
	}
	password := map[string]bool{}
	if p, ok := reg.LookupConnector(connectorClass); ok {
		def := p.ConfigDefOf().With(enrichedFrameworkDef(reg, p.Kind, config))
		for _, k := range def.Keys() {
			if k.Type == connect.TypePassword {
				password[k.Name] = true
			}
		}
	}
	out := make(map[string]string, len(config))
	for k, v := range config {
		out[k] = RedactValue(k, v, password[k])
	}
	return out
}

// RestoreHidden puts back the stored value of every key a client sent as
// GET returned it — "[hidden]" for a secret, a URL with its credentials
// hidden — so that a read-modify-write of a config never overwrites a
// password with the placeholder.
func RestoreHidden(old, updated map[string]string) {
	for k, v := range updated {
		prev, ok := old[k]
		if !ok || v == prev {
			continue
		}
		if v == connect.HiddenValue || v == RedactURLCredentials(prev) {
			updated[k] = prev
		}
	}
}

// TasksMaxLimit is the worker's tasks.max.limit.
func TasksMaxLimit(cfg *WorkerConfig) int {
	if cfg == nil || cfg.Config == nil {
		return DefaultTasksMaxLimit
	}
	if n := cfg.Int(WTasksMaxLimit); n > 0 {
		return n
	}
	return DefaultTasksMaxLimit
}
