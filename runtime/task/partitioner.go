package task

import "github.com/twmb/franz-go/pkg/kgo"

// sourcePartitioner honours a partition chosen by the source record
// (Partition >= 0) and otherwise partitions as Kafka's Java producer does
// for keys (murmur2) via kgo's sticky key partitioner.
type sourcePartitioner struct{ inner kgo.Partitioner }

func newSourcePartitioner() kgo.Partitioner {
	return sourcePartitioner{kgo.StickyKeyPartitioner(nil)}
}

func (p sourcePartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return &topicPartitioner{p.inner.ForTopic(topic)}
}

type topicPartitioner struct{ inner kgo.TopicPartitioner }

var _ kgo.TopicPartitionerOnNewBatch = (*topicPartitioner)(nil)

func (t *topicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return r.Partition >= 0 || t.inner.RequiresConsistency(r)
}

func (t *topicPartitioner) Partition(r *kgo.Record, n int) int {
	if r.Partition >= 0 {
		return int(r.Partition)
	}
	return t.inner.Partition(r, n)
}

func (t *topicPartitioner) OnNewBatch() {
	if nb, ok := t.inner.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}
