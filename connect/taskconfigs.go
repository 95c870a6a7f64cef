package connect

import "maps"

// CopiesForTasks returns n copies of config, one per task: the TaskConfigs
// of a sink connector whose tasks all share the connector's config and
// split the work through the consumer group.
func CopiesForTasks(config map[string]string, n int) []map[string]string {
	out := make([]map[string]string, n)
	for i := range out {
		out[i] = maps.Clone(config)
	}
	return out
}
