package standalone

import (
	"context"

	"github.com/ferryhq/ferry/runtime/herder"
)

// AlterConnectorOffsets changes offsets of a stopped connector.
func (h *Herder) AlterConnectorOffsets(ctx context.Context, name string, offsets *herder.ConnectorOffsets) (string, error) {
	// writeMu keeps the connector stopped while its offsets change.
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	config, err := h.stoppedConfig(name)
	if err != nil {
		return "", err
	}
	return h.OffsetsAPI().Alter(ctx, name, config, offsets)
}

// ResetConnectorOffsets removes all offsets of a stopped connector.
func (h *Herder) ResetConnectorOffsets(ctx context.Context, name string) (string, error) {
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	config, err := h.stoppedConfig(name)
	if err != nil {
		return "", err
	}
	return h.OffsetsAPI().Reset(ctx, name, config)
}
