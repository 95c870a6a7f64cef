package standalone

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ferryhq/ferry/runtime/herder"
)

// storedConnector is one connector as kept on disk.
type storedConnector struct {
	Config map[string]string  `json:"config"`
	Target herder.TargetState `json:"target"`
}

// configFile keeps connector configs and target states across restarts, so
// that connectors created over REST survive a restart of the worker.
// Format (Ferry's own): {"version":1,"connectors":{name:{config,target}}}.
type configFile struct {
	path string
}

type configFileBody struct {
	Version    int                        `json:"version"`
	Connectors map[string]storedConnector `json:"connectors"`
}

func (f configFile) load() (map[string]storedConnector, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]storedConnector{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading connector configs: %w", err)
	}
	var body configFileBody
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, fmt.Errorf("connector config file %s is corrupt: %w", f.path, err)
	}
	if body.Connectors == nil {
		body.Connectors = map[string]storedConnector{}
	}
	return body.Connectors, nil
}

// save writes the file atomically: temp file, fsync, rename, fsync dir.
func (f configFile) save(conns map[string]storedConnector) error {
	b, err := json.MarshalIndent(configFileBody{Version: 1, Connectors: conns}, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("saving connector configs: %w", err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(f.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("saving connector configs: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("saving connector configs: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("saving connector configs: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving connector configs: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("saving connector configs: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
