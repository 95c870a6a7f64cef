package connect

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ConfigType is the type of a configuration key, named as Apache's
// ConfigDef.Type (these names appear in /config/validate output).
type ConfigType string

// Configuration key types.
const (
	TypeBoolean  ConfigType = "BOOLEAN"
	TypeString   ConfigType = "STRING"
	TypeInt      ConfigType = "INT"
	TypeShort    ConfigType = "SHORT"
	TypeLong     ConfigType = "LONG"
	TypeDouble   ConfigType = "DOUBLE"
	TypeList     ConfigType = "LIST"
	TypeClass    ConfigType = "CLASS"
	TypePassword ConfigType = "PASSWORD"
)

// Importance says how much a user should care about a key.
type Importance string

// Importance levels.
const (
	High   Importance = "HIGH"
	Medium Importance = "MEDIUM"
	Low    Importance = "LOW"
)

// Width is a hint for UIs about how wide a value usually is.
type Width string

// Width hints.
const (
	WidthNone   Width = "NONE"
	WidthShort  Width = "SHORT"
	WidthMedium Width = "MEDIUM"
	WidthLong   Width = "LONG"
)

// Password is the parsed value of a PASSWORD key. It prints as [hidden] so
// that secrets do not reach logs or REST output by accident.
type Password string

// String hides the value.
func (Password) String() string { return HiddenValue }

// Value returns the secret itself.
func (p Password) Value() string { return string(p) }

// HiddenValue is how PASSWORD values are rendered everywhere.
const HiddenValue = "[hidden]"

// noDefault marks a key that must be supplied.
type noDefault struct{}

// NoDefault is the Default of a required key.
var NoDefault any = noDefault{}

// ConfigKey declares one configuration key.
type ConfigKey struct {
	Name string
	Type ConfigType
	// Default is the value used when the key is absent, given as the parsed
	// Go type (string, int, int16, int64, float64, bool, []string,
	// Password) or nil. Use NoDefault for required keys.
	Default      any
	Validator    Validator
	Importance   Importance
	Doc          string
	Group        string
	OrderInGroup int
	Width        Width
	DisplayName  string
	Dependents   []string
	// Recommended lists suggested values shown by /config/validate.
	Recommended []string
}

// Required reports whether the key has no default.
func (k ConfigKey) Required() bool { _, req := k.Default.(noDefault); return req }

// Validator checks a parsed value.
type Validator interface {
	// Validate returns a message (without key or value) when v is invalid.
	Validate(name string, v any) error
	// String describes the accepted values, for docs.
	String() string
}

// ConfigDef is the single declaration of a plugin's configuration. It
// parses configs, validates them for the REST API and documents them.
type ConfigDef struct {
	keys  []ConfigKey
	index map[string]int
	err   error
}

// NewConfigDef returns an empty definition.
func NewConfigDef() *ConfigDef { return &ConfigDef{index: map[string]int{}} }

// Define adds a key. Defining a name twice is recorded as an error that
// Err and every parse report.
func (d *ConfigDef) Define(k ConfigKey) *ConfigDef {
	if _, dup := d.index[k.Name]; dup {
		d.err = fmt.Errorf("configuration %s is defined twice", k.Name)
		return d
	}
	if k.Importance == "" {
		k.Importance = Medium
	}
	if k.Width == "" {
		k.Width = WidthNone
	}
	if k.DisplayName == "" {
		k.DisplayName = k.Name
	}
	if k.Group == "" {
		k.OrderInGroup = -1
	}
	if !k.Required() && k.Default != nil {
		v, err := coerceDefault(k.Type, k.Default)
		if err != nil {
			d.err = fmt.Errorf("invalid default for %s: %w", k.Name, err)
			return d
		}
		k.Default = v
		if k.Validator != nil {
			if err := k.Validator.Validate(k.Name, v); err != nil {
				d.err = fmt.Errorf("invalid default for %s: %w", k.Name, err)
				return d
			}
		}
	}
	d.index[k.Name] = len(d.keys)
	d.keys = append(d.keys, k)
	return d
}

// Err returns the first definition error.
func (d *ConfigDef) Err() error { return d.err }

// Keys returns the keys in definition order.
func (d *ConfigDef) Keys() []ConfigKey { return slices.Clone(d.keys) }

// Key looks a key up by name.
func (d *ConfigDef) Key(name string) (ConfigKey, bool) {
	i, ok := d.index[name]
	if !ok {
		return ConfigKey{}, false
	}
	return d.keys[i], true
}

// Groups returns the distinct group names in first-use order.
func (d *ConfigDef) Groups() []string {
	var out []string
	for _, k := range d.keys {
		if k.Group != "" && !slices.Contains(out, k.Group) {
			out = append(out, k.Group)
		}
	}
	return out
}

// With returns a copy of d extended with the keys of others that d does
// not define yet.
func (d *ConfigDef) With(others ...*ConfigDef) *ConfigDef {
	out := &ConfigDef{keys: slices.Clone(d.keys), index: maps.Clone(d.index), err: d.err}
	for _, o := range others {
		if o == nil {
			continue
		}
		if o.err != nil && out.err == nil {
			out.err = o.err
		}
		for _, k := range o.keys {
			if _, ok := out.index[k.Name]; !ok {
				out.index[k.Name] = len(out.keys)
				out.keys = append(out.keys, k)
			}
		}
	}
	return out
}

// ConfigError is a configuration problem tied to one key.
type ConfigError struct {
	Name    string
	Value   any
	HasVal  bool
	Message string
}

func (e *ConfigError) Error() string {
	if !e.HasVal {
		return e.Message
	}
	return fmt.Sprintf("Invalid value %s for configuration %s: %s", renderValue(e.Value), e.Name, e.Message)
}

func missing(name string) *ConfigError {
	return &ConfigError{Name: name, Message: fmt.Sprintf("Missing required configuration %q which has no default value.", name)}
}

// Config is a parsed configuration: every defined key with its typed value,
// plus the original strings.
type Config struct {
	values    map[string]any
	originals map[string]string
}

// Parse parses and validates props, returning the first error.
func (d *ConfigDef) Parse(props map[string]string) (*Config, error) {
	if d.err != nil {
		return nil, d.err
	}
	c := &Config{values: make(map[string]any, len(d.keys)), originals: maps.Clone(props)}
	for _, k := range d.keys {
		v, err := d.parseKey(k, props)
		if err != nil {
			return nil, err
		}
		c.values[k.Name] = v
	}
	return c, nil
}

func (d *ConfigDef) parseKey(k ConfigKey, props map[string]string) (any, error) {
	raw, present := props[k.Name]
	var v any
	if present {
		pv, err := ParseValue(k.Type, raw)
		if err != nil {
			return nil, &ConfigError{Name: k.Name, Value: raw, HasVal: true, Message: err.Error()}
		}
		v = pv
	} else {
		if k.Required() {
			return nil, missing(k.Name)
		}
		v = k.Default
	}
	if k.Validator != nil && (present || v != nil) {
		if err := k.Validator.Validate(k.Name, v); err != nil {
			return nil, &ConfigError{Name: k.Name, Value: v, HasVal: true, Message: err.Error()}
		}
	}
	return v, nil
}

// ConfigValue is the validation result of one key, as /config/validate
// reports it.
type ConfigValue struct {
	Name        string
	Value       any
	Recommended []string
	Errors      []string
	Visible     bool
}

// Validate checks every defined key of props and reports each key's value
// and errors; unlike Parse it does not stop at the first problem.
func (d *ConfigDef) Validate(props map[string]string) []ConfigValue {
	out := make([]ConfigValue, 0, len(d.keys))
	for _, k := range d.keys {
		cv := ConfigValue{Name: k.Name, Visible: true, Recommended: k.Recommended}
		v, err := d.parseKey(k, props)
		if err != nil {
			cv.Errors = append(cv.Errors, err.Error())
			if raw, ok := props[k.Name]; ok {
				cv.Value = raw
			}
		} else {
			cv.Value = v
		}
		out = append(out, cv)
	}
	return out
}

// ParseValue converts a raw string to the Go value of a config type, with
// Apache's rules: values are trimmed, booleans are true/false in any case,
// lists split on commas.
func ParseValue(t ConfigType, raw string) (any, error) {
	s := strings.TrimSpace(raw)
	switch t {
	case TypeBoolean:
		switch strings.ToLower(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("Expected value to be either true or false")
	case TypeString, TypeClass:
		return s, nil
	case TypePassword:
		return Password(raw), nil
	case TypeInt:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("Not a number of type INT")
		}
		return int(n), nil
	case TypeShort:
		n, err := strconv.ParseInt(s, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("Not a number of type SHORT")
		}
		return int16(n), nil
	case TypeLong:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("Not a number of type LONG")
		}
		return n, nil
	case TypeDouble:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("Not a number of type DOUBLE")
		}
		return f, nil
	case TypeList:
		if s == "" {
			return []string{}, nil
		}
		return listSplit.Split(s, -1), nil
	}
	return nil, fmt.Errorf("unknown config type %s", t)
}

var listSplit = regexp.MustCompile(`\s*,\s*`)

func coerceDefault(t ConfigType, v any) (any, error) {
	if s, ok := v.(string); ok && t != TypeString && t != TypeClass {
		if t == TypePassword {
			return Password(s), nil
		}
		return ParseValue(t, s)
	}
	switch t {
	case TypeInt:
		if n, ok := v.(int); ok {
			return n, nil
		}
	case TypeShort:
		switch n := v.(type) {
		case int16:
			return n, nil
		case int:
			return int16(n), nil
		}
	case TypeLong:
		switch n := v.(type) {
		case int64:
			return n, nil
		case int:
			return int64(n), nil
		}
	case TypeDouble:
		switch n := v.(type) {
		case float64:
			return n, nil
		case int:
			return float64(n), nil
		}
	case TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case TypeString, TypeClass:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case TypeList:
		if l, ok := v.([]string); ok {
			return l, nil
		}
	case TypePassword:
		if p, ok := v.(Password); ok {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%v (%T) is not a %s", v, v, t)
}

// RenderDefault renders a key's default as /config/validate shows it:
// null when required or nil, lists joined by commas, passwords hidden.
func (k ConfigKey) RenderDefault() *string {
	if k.Required() || k.Default == nil {
		return nil
	}
	s := RenderValue(k.Type, k.Default)
	return &s
}

// RenderValue renders a parsed value as a string the way Apache does.
func RenderValue(t ConfigType, v any) string {
	if t == TypePassword {
		return HiddenValue
	}
	switch x := v.(type) {
	case []string:
		return strings.Join(x, ",")
	case float64:
		return FormatJavaFloat(x, 64)
	}
	return fmt.Sprint(v)
}

func renderValue(v any) string {
	switch x := v.(type) {
	case []string:
		return "[" + strings.Join(x, ", ") + "]"
	case Password:
		return HiddenValue
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

// Typed accessors. They panic on a name that was not defined or a type
// mismatch, both programming errors caught by the first test run.

// String returns a STRING or CLASS value ("" when nil).
func (c *Config) String(name string) string {
	v := c.get(name)
	if v == nil {
		return ""
	}
	return v.(string)
}

// Int returns an INT value.
func (c *Config) Int(name string) int { return c.get(name).(int) }

// Short returns a SHORT value.
func (c *Config) Short(name string) int16 { return c.get(name).(int16) }

// Long returns a LONG value.
func (c *Config) Long(name string) int64 { return c.get(name).(int64) }

// Double returns a DOUBLE value.
func (c *Config) Double(name string) float64 { return c.get(name).(float64) }

// Bool returns a BOOLEAN value.
func (c *Config) Bool(name string) bool { return c.get(name).(bool) }

// List returns a LIST value (nil when unset with a nil default).
func (c *Config) List(name string) []string {
	v := c.get(name)
	if v == nil {
		return nil
	}
	return v.([]string)
}

// Password returns a PASSWORD value.
func (c *Config) Password(name string) Password {
	v := c.get(name)
	if v == nil {
		return ""
	}
	return v.(Password)
}

// IsSet reports whether the key was given explicitly.
func (c *Config) IsSet(name string) bool { _, ok := c.originals[name]; return ok }

// Originals returns the raw config the parse started from.
func (c *Config) Originals() map[string]string { return maps.Clone(c.originals) }

// WithPrefix returns the original keys starting with prefix, prefix removed.
func (c *Config) WithPrefix(prefix string) map[string]string {
	return StripPrefix(c.originals, prefix)
}

// StripPrefix returns the keys of m that start with prefix, without it.
func StripPrefix(m map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out[rest] = v
		}
	}
	return out
}

func (c *Config) get(name string) any {
	v, ok := c.values[name]
	if !ok {
		panic(fmt.Sprintf("connect: configuration %s is not defined", name))
	}
	return v
}

// Validators.

type funcValidator struct {
	fn   func(v any) error
	desc string
}

func (f funcValidator) Validate(_ string, v any) error { return f.fn(v) }
func (f funcValidator) String() string                 { return f.desc }

// ValidatorFunc wraps fn as a Validator described by desc.
func ValidatorFunc(desc string, fn func(v any) error) Validator {
	return funcValidator{fn: fn, desc: desc}
}

func asFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int16:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// AtLeast accepts numbers ≥ min.
func AtLeast(min float64) Validator {
	return funcValidator{desc: "[" + fmtNum(min) + ",...]", fn: func(v any) error {
		if f, ok := asFloat(v); ok && f < min {
			return fmt.Errorf("Value must be at least %s", fmtNum(min))
		}
		return nil
	}}
}

// Between accepts numbers in [min, max].
func Between(min, max float64) Validator {
	return funcValidator{desc: "[" + fmtNum(min) + ",...," + fmtNum(max) + "]", fn: func(v any) error {
		f, ok := asFloat(v)
		if !ok {
			return nil
		}
		if f < min {
			return fmt.Errorf("Value must be at least %s", fmtNum(min))
		}
		if f > max {
			return fmt.Errorf("Value must be no more than %s", fmtNum(max))
		}
		return nil
	}}
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// OneOf accepts exactly one of the given strings.
func OneOf(values ...string) Validator {
	return funcValidator{desc: "[" + strings.Join(values, ", ") + "]", fn: func(v any) error {
		s, _ := v.(string)
		if !slices.Contains(values, s) {
			return fmt.Errorf("String must be one of: %s", strings.Join(values, ", "))
		}
		return nil
	}}
}

// OneOfIgnoreCase accepts one of the given strings in any letter case.
func OneOfIgnoreCase(values ...string) Validator {
	return funcValidator{desc: "[" + strings.Join(values, ", ") + "]", fn: func(v any) error {
		s, _ := v.(string)
		for _, w := range values {
			if strings.EqualFold(s, w) {
				return nil
			}
		}
		return fmt.Errorf("String must be one of (case insensitive): %s", strings.Join(values, ", "))
	}}
}

// NonEmptyString rejects an empty string.
func NonEmptyString() Validator {
	return funcValidator{desc: "non-empty string", fn: func(v any) error {
		if s, ok := v.(string); ok && s == "" {
			return fmt.Errorf("String must be non-empty")
		}
		if v == nil {
			return fmt.Errorf("String must be non-empty")
		}
		return nil
	}}
}
