package transforms

import (
	"github.com/ferryhq/ferry/connect"
)

// variantPlugins describes the $Key and $Value classes of a transform.
func variantPlugins(name, doc string, def func() *connect.ConfigDef, mk func(side) connect.Transformation) []connect.Plugin {
	var out []connect.Plugin
	for _, s := range []side{onKey, onValue} {
		out = append(out, connect.Plugin{
			Kind: connect.KindTransformation, Class: variantClass(name, s), Version: Version,
			Config: def, New: func() any { return mk(s) }, Doc: doc,
		})
	}
	return out
}

func plugin(name, doc string, def func() *connect.ConfigDef, mk func() connect.Transformation) connect.Plugin {
	return connect.Plugin{Kind: connect.KindTransformation, Class: pkg + name, Version: Version,
		Config: def, New: func() any { return mk() }, Doc: doc}
}

func predicatePlugin(name, doc string, def func() *connect.ConfigDef, mk func() connect.Predicate) connect.Plugin {
	return connect.Plugin{Kind: connect.KindPredicate, Class: predPkg + name, Version: Version,
		Config: def, New: func() any { return mk() }, Doc: doc}
}

// Plugins returns the descriptors of every built-in transform and
// predicate.
func Plugins() []connect.Plugin {
	var out []connect.Plugin
	add := func(ps ...connect.Plugin) { out = append(out, ps...) }
	add(variantPlugins("Cast", "Cast fields or the whole key or value to another type.", CastConfigDef, func(s side) connect.Transformation { return &Cast{side: s} })...)
	add(plugin("DropHeaders", "Remove headers by name.", DropHeadersConfigDef, func() connect.Transformation { return &DropHeaders{} }))
	add(variantPlugins("ExtractField", "Replace the key or value with one of its fields.", ExtractFieldConfigDef, func(s side) connect.Transformation { return &ExtractField{side: s} })...)
	add(plugin("Filter", "Drop every record; combine with a predicate.", FilterConfigDef, func() connect.Transformation { return &Filter{} }))
	add(variantPlugins("Flatten", "Flatten nested structs or maps into one level.", FlattenConfigDef, func(s side) connect.Transformation { return &Flatten{side: s} })...)
	add(variantPlugins("HeaderFrom", "Move or copy fields of the key or value into headers.", HeaderFromConfigDef, func(s side) connect.Transformation { return &HeaderFrom{side: s} })...)
	add(variantPlugins("HoistField", "Wrap the key or value in a struct or map under one field.", HoistFieldConfigDef, func(s side) connect.Transformation { return &HoistField{side: s} })...)
	add(variantPlugins("InsertField", "Insert record metadata or a static value as fields.", InsertFieldConfigDef, func(s side) connect.Transformation { return &InsertField{side: s} })...)
	add(plugin("InsertHeader", "Add a header with a literal value.", InsertHeaderConfigDef, func() connect.Transformation { return &InsertHeader{} }))
	add(variantPlugins("MaskField", "Replace fields with an empty value or a given replacement.", MaskFieldConfigDef, func(s side) connect.Transformation { return &MaskField{side: s} })...)
	add(plugin("RegexRouter", "Rename topics with a regular expression.", RegexRouterConfigDef, func() connect.Transformation { return &RegexRouter{} }))
	add(variantPlugins("ReplaceField", "Keep, drop or rename fields.", ReplaceFieldConfigDef, func(s side) connect.Transformation { return &ReplaceField{side: s} })...)
	add(variantPlugins("SetSchemaMetadata", "Set the schema name or version.", SetSchemaMetadataConfigDef, func(s side) connect.Transformation { return &SetSchemaMetadata{side: s} })...)
	add(variantPlugins("TimestampConverter", "Convert timestamps between strings, epoch numbers and Connect logical types.", TimestampConverterConfigDef, func(s side) connect.Transformation { return &TimestampConverter{side: s} })...)
	add(plugin("TimestampRouter", "Rename topics with the record timestamp.", TimestampRouterConfigDef, func() connect.Transformation { return &TimestampRouter{} }))
	add(plugin("ValueToKey", "Build the key from fields of the value.", ValueToKeyConfigDef, func() connect.Transformation { return &ValueToKey{} }))
	add(predicatePlugin("HasHeaderKey", "True for records with a header of the given name.", HasHeaderKeyConfigDef, func() connect.Predicate { return &HasHeaderKey{} }))
	add(predicatePlugin("RecordIsTombstone", "True for records with a null value.", RecordIsTombstoneConfigDef, func() connect.Predicate { return &RecordIsTombstone{} }))
	add(predicatePlugin("TopicNameMatches", "True for records whose topic matches a regular expression.", TopicNameMatchesConfigDef, func() connect.Predicate { return &TopicNameMatches{} }))
	return out
}
