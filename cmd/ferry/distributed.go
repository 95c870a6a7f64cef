package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/app"
	"github.com/ferryhq/ferry/internal/props"
)

func distributedCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "distributed WORKER.properties",
		Short: "Run one worker of a cluster, like Apache's connect-distributed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			workerProps, err := props.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("reading worker properties: %w", err)
			}
			logger, levels := newLogger()
			return app.RunDistributed(cmd.Context(), workerProps, logger, levels, nil)
		},
	}
}
