// Package version tells which Ferry build is running and which Apache
// Kafka Connect release its behaviour follows.
package version

import "runtime/debug"

// Ferry is Ferry's own release.
const Ferry = "0.1.0"

// Connect is the Apache Kafka Connect release whose REST API, configs and
// formats Ferry implements; GET / reports it as "version" so that tools
// that gate features on the Connect version keep working.
const Connect = "4.1.1"

// Commit returns the VCS revision the binary was built from, shortened, or
// "unknown".
func Commit() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 16 {
			return s.Value[:16]
		}
	}
	return "unknown"
}
