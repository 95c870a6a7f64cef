package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/app"
	"github.com/ferryhq/ferry/internal/props"
	"github.com/ferryhq/ferry/logging"
)

func standaloneCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "standalone WORKER.properties [CONNECTOR.properties|CONNECTOR.json ...]",
		Short: "Run a single worker, like Apache's connect-standalone",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			workerProps, err := props.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("reading worker properties: %w", err)
			}
			var conns []map[string]string
			for _, p := range args[1:] {
				c, err := props.ReadConnectorFile(p)
				if err != nil {
					return fmt.Errorf("reading connector config: %w", err)
				}
				conns = append(conns, c)
			}
			logger, levels := newLogger()
			return app.RunStandalone(cmd.Context(), workerProps, conns, logger, levels, nil)
		},
	}
}

func newLogger() (*slog.Logger, *logging.Levels) {
	levels := logging.NewLevels(logging.LevelInfo)
	base := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug - 4})
	return slog.New(logging.NewHandler(base, levels)), levels
}
