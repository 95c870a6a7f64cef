package bigquery

import (
	"context"
	"errors"

	"github.com/ferryhq/ferry/connect"
)

// storageWrite writes rows through the Storage Write API.
type storageWrite struct{}

func newStorageWrite(context.Context, *Task) (*storageWrite, error) {
	return nil, errors.New("the Storage Write API is not available yet")
}

func (w *storageWrite) write(context.Context, map[tableID]*tableBatch, []tableID) ([]badRow, error) {
	return nil, errors.New("the Storage Write API is not available yet")
}

func (w *storageWrite) committable(_ context.Context, offsets map[connect.TopicPartition]int64) (map[connect.TopicPartition]int64, error) {
	return offsets, nil
}

func (w *storageWrite) close() {}
