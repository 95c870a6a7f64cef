package standalone

import (
	"context"
	"maps"

	"github.com/ferryhq/ferry/runtime"
	"github.com/ferryhq/ferry/runtime/herder"
)

func (h *Herder) offsetsAPI() *runtime.OffsetsAPI {
	return &runtime.OffsetsAPI{Registry: h.reg, Offsets: h.offsets, Admin: h.admin}
}

// ConnectorOffsets returns a connector's source offsets or sink consumer offsets.
func (h *Herder) ConnectorOffsets(ctx context.Context, name string) (*herder.ConnectorOffsets, error) {
	h.mu.Lock()
	cs, err := h.lookup(name)
	var config map[string]string
	if err == nil {
		config = maps.Clone(cs.config)
	}
	h.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return h.offsetsAPI().Get(ctx, name, config)
}

// AlterConnectorOffsets changes offsets of a stopped connector.
func (h *Herder) AlterConnectorOffsets(ctx context.Context, name string, offsets *herder.ConnectorOffsets) (string, error) {
	// writeMu keeps the connector stopped while its offsets change.
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	config, err := h.stoppedConfig(name)
	if err != nil {
		return "", err
	}
	return h.offsetsAPI().Alter(ctx, name, config, offsets)
}

// ResetConnectorOffsets removes all offsets of a stopped connector.
func (h *Herder) ResetConnectorOffsets(ctx context.Context, name string) (string, error) {
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	config, err := h.stoppedConfig(name)
	if err != nil {
		return "", err
	}
	return h.offsetsAPI().Reset(ctx, name, config)
}

// ConnectorLag reports a sink connector's consumer lag.
func (h *Herder) ConnectorLag(ctx context.Context, name string) (*herder.ConnectorLag, error) {
	h.mu.Lock()
	cs, err := h.lookup(name)
	var config map[string]string
	if err == nil {
		config = maps.Clone(cs.config)
	}
	h.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return h.offsetsAPI().Lag(ctx, name, config)
}
