package transforms

import (
	"fmt"

	"github.com/ferryhq/ferry/connect"
)

// TopicNameMatchesConfigDef declares TopicNameMatches' keys.
func TopicNameMatchesConfigDef() *connect.ConfigDef {
	return connect.NewConfigDef().
		Define(connect.ConfigKey{Name: "pattern", Type: connect.TypeString, Default: connect.NoDefault,
			Validator: connect.ValidatorFunc("non-empty string, valid regex", func(v any) error {
				if err := connect.NonEmptyString().Validate("pattern", v); err != nil {
					return err
				}
				return regexValidator().Validate("pattern", v)
			}),
			Importance: connect.Medium, Doc: "A Java regular expression for matching against the name of a record's topic."})
}

// TopicNameMatches is true for records whose whole topic name matches a
// regular expression.
type TopicNameMatches struct {
	noClose
	re *javaRegex
}

// Configure implements connect.Predicate.
func (p *TopicNameMatches) Configure(props map[string]string) error {
	c, err := parse(TopicNameMatchesConfigDef(), props)
	if err != nil {
		return err
	}
	if p.re, err = compileJavaRegex(c.String("pattern")); err != nil {
		return &connect.ConfigError{Name: "pattern", Value: c.String("pattern"), HasVal: true,
			Message: "entry must be a Java-compatible regular expression: " + regexMessage(err)}
	}
	return nil
}

// Test implements connect.Predicate.
func (p *TopicNameMatches) Test(rec *connect.Record) (bool, error) {
	return p.re.full.MatchString(rec.Topic), nil
}

func (p *TopicNameMatches) String() string {
	return fmt.Sprintf("TopicNameMatches{pattern=%s}", p.re.find)
}

// HasHeaderKeyConfigDef declares HasHeaderKey's keys.
func HasHeaderKeyConfigDef() *connect.ConfigDef {
	return connect.NewConfigDef().
		Define(connect.ConfigKey{Name: "name", Type: connect.TypeString, Default: connect.NoDefault, Validator: connect.NonEmptyString(),
			Importance: connect.Medium, Doc: "The header name."})
}

// HasHeaderKey is true for records with at least one header of a name.
type HasHeaderKey struct {
	noClose
	name string
}

// Configure implements connect.Predicate.
func (p *HasHeaderKey) Configure(props map[string]string) error {
	c, err := parse(HasHeaderKeyConfigDef(), props)
	if err != nil {
		return err
	}
	p.name = c.String("name")
	return nil
}

// Test implements connect.Predicate.
func (p *HasHeaderKey) Test(rec *connect.Record) (bool, error) {
	_, ok := rec.Headers.Last(p.name)
	return ok, nil
}

// RecordIsTombstoneConfigDef declares RecordIsTombstone's (empty) configuration.
func RecordIsTombstoneConfigDef() *connect.ConfigDef { return connect.NewConfigDef() }

// RecordIsTombstone is true for records with a null value.
type RecordIsTombstone struct{ noClose }

// Configure implements connect.Predicate.
func (*RecordIsTombstone) Configure(map[string]string) error { return nil }

// Test implements connect.Predicate.
func (*RecordIsTombstone) Test(rec *connect.Record) (bool, error) { return rec.Value == nil, nil }
